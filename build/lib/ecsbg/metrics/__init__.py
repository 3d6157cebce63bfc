"""The metrics seam: a MetricsRecorder protocol and its Prometheus implementation."""
