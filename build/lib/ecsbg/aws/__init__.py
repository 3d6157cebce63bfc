"""The AWS seam: every ECS/STS call goes through ecsbg.aws.calls, which records a metric per call."""
