"""Release waves (`EcsReleaseWave`, docs/api.md "Release waves"): one change rolled out across targets in order.

Pure, like the rest of ecsbg.domain: `model` (the parsed spec and what is observed of the child releases),
`parsing` (CR body -> WaveSpec, or InvalidWave with one reason per problem), `children` (the child release each
target gets: name, labels, spec), `planning` (children observed + prior status -> the writes of this pass and the
new status, the only place a wave's phase is decided) and `events` (Events on transitions). The wave never calls
ECS: it creates and patches child EcsBlueGreenReleases, which deploy.
"""
