"""A local Amazon ECS API emulator (JSON 1.1 wire protocol) with native blue/green, linear and canary."""
