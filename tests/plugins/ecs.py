"""Fixtures for the local ECS emulator (owned by the emulator work)."""
