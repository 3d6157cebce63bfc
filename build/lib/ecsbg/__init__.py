"""ecsbg: a Kubernetes operator for Amazon ECS native blue/green, linear and canary deployments."""

__version__ = "0.1.0"
