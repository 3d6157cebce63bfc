"""Pure domain: the release model, spec parsing, planning and the status function.

No kopf, boto3, botocore, asyncio or prometheus_client here (enforced by import-linter).
"""
