"""Fixtures for the local Kubernetes API (owned by the devcluster work)."""
