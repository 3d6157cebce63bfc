"""A local Amazon ECS API emulator (JSON 1.1 wire protocol) with native blue/green, linear and canary.

    from ecsbg_emulators.ecs import EmulatorServer
    with EmulatorServer(speed=2000) as srv:
        ecs = boto3.client("ecs", endpoint_url=srv.url, region_name="us-east-1", ...)

See docs/emulator.md for the control API, the fault syntax and what differs from real ECS.
"""

from .server import EmulatorServer

__all__ = ["EmulatorServer"]
