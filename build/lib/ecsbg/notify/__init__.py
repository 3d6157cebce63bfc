"""Notification delivery (docs/observability.md "Notifications"): provider lookup, payload formats, the
background sender. What to notify is decided in the pure `ecsbg.domain.notifications`."""
