"""The kubectl plugin `kubectl-ecsrelease`."""
