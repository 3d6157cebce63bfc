"""A local Kubernetes API (kmock-based) with CRD schema enforcement, for the demo and the tests."""
