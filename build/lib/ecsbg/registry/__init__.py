"""Container registries outside AWS: tag -> digest through the OCI distribution API (ecsbg.registry.oci)."""
