"""The Kubernetes seam: status rendering and Events."""
