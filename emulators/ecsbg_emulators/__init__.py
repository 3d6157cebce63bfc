"""ecsbg's test kit, installable without the operator (`pip install ./emulators`):

- `ecsbg_emulators.ecs`: a local Amazon ECS API with native blue/green, linear and canary deployments, lifecycle
  hooks and rollbacks, served to an unmodified boto3 (docs/emulator.md cites the AWS page of every behaviour);
- `ecsbg_emulators.devcluster`: a local Kubernetes API (CRDs, watch, status subresource, CEL, pruning and
  defaulting) for demos and fast tests (docs/devcluster.md).

Neither imports the operator (import-linter contract "The emulators do not depend on the operator").
"""
