"""HTTP routes of the control API (documented in docs/emulator.md); JSON in, JSON out."""

from __future__ import annotations

import json
from typing import Any

from .errors import EcsError


def route(srv: Any, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    control = srv.control
    try:
        data = json.loads(body or b"{}")
        if method == "GET" and path == "state":
            return 200, control.state()
        if method == "GET" and path == "requests":
            return 200, {"requests": list(srv.requests)}
        if method != "POST":
            return 404, {"message": f"no control route {method} /_emulator/{path}"}
        if path == "alarms":
            control.set_alarm(data["alarmName"], data["state"], data.get("region"), data.get("account"))
        elif path == "fail-tasks":
            control.fail_tasks(data["cluster"], data["service"], data.get("count"), data.get("region"),
                               data.get("account"))
        elif path == "hooks":
            control.set_hook_behaviour(data["functionArn"], data["behaviour"])
        elif path == "answer-hook":
            control.answer_hook(data["hookId"], data["answer"])
        elif path == "faults":
            control.set_faults(data.get("spec"))
        elif path == "speed":
            control.set_speed(float(data["speed"]))
        elif path == "fail-next-rollback":
            control.fail_next_rollback(data["cluster"], data["service"], data.get("region"), data.get("account"))
        else:
            return 404, {"message": f"no control route POST /_emulator/{path}"}
        return 200, {"ok": True}
    except KeyError as exc:
        return 404 if path == "answer-hook" else 400, {"message": f"bad control request: {exc}"}
    except (ValueError, TypeError) as exc:
        return 400, {"message": f"bad control request: {exc}"}
    except EcsError as exc:
        return 404, exc.body()
