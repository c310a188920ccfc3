"""What the control channel answers: status, events, logs, metrics, and operations on services.

GET  /status                          {"stack": {...}, "services": [...]}
GET  /events?since=N&wait=S           events after the N-th (long-polls up to S seconds)
GET  /logs/NAME?n=N&since=M&wait=S    a service's output (all services without NAME)
GET  /metrics                         Prometheus text
POST /services/NAME/ACTION            restart, stop, start, kill ({"signal"}), pause, resume
POST /scale                           {"service": NAME, "replicas": N}
POST /down                            stop the stack and its launcher
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..define.policies import parse_signal
from ..engine.stack import Stack, selection_summary
from ..errors import DefinitionError, ServiceError, StackError
from .http import Reply, Request
from .prometheus import exposition

ACTIONS = ("restart", "stop", "start", "kill", "pause", "resume")


class ControlApi:
    def __init__(
        self,
        stack: Stack,
        info: dict[str, Any],
        on_down: Callable[[], None],
        on_reload: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self.stack = stack
        self.info = info
        self.on_down = on_down
        self.on_reload = on_reload
        self._changed = asyncio.Event()
        stack.events.subscribe(lambda _e: self._notify())
        for unit in stack.units.values():
            unit.log.listen(lambda _s, _l: self._notify())

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), seconds)

    async def __call__(self, req: Request) -> Reply:
        parts = [p for p in req.path.split("/") if p]
        try:
            if req.method == "GET" and parts == ["status"]:
                return 200, self.status()
            if req.method == "GET" and parts == ["events"]:
                return 200, await self.events(req)
            if req.method == "GET" and parts[:1] == ["logs"] and len(parts) <= 2:
                return 200, await self.logs(req, parts[1] if len(parts) == 2 else None)
            if req.method == "GET" and parts == ["metrics"]:
                return 200, exposition(self.stack, self.service_rows())
            if req.method == "POST" and len(parts) == 3 and parts[0] == "services":
                return await self.act(parts[1], parts[2], req.json())
            if req.method == "POST" and parts == ["scale"]:
                body = req.json()
                return 200, await self.scale(str(body["service"]), int(body["replicas"]))
            if req.method == "GET" and len(parts) == 2 and parts[0] == "handles":
                self._known(parts[1])
                return 200, {"handle": _attrs(self.stack.handle(parts[1]))}
            if req.method == "POST" and parts == ["reload"] and self.on_reload is not None:
                return 200, await self.on_reload()
            if req.method == "POST" and parts == ["down"]:
                self.on_down()
                return 202, {"stopping": True}
        except (ServiceError, DefinitionError) as e:
            return 409, {"error": str(e)}
        except (KeyError, ValueError) as e:
            return 400, {"error": f"bad request: {e}"}
        return 404, {"error": f"no such endpoint: {req.method} {req.path}"}

    def _known(self, name: str) -> None:
        if name not in self.stack.units:
            raise KeyError(f"unknown service {name!r} (known: {', '.join(self.stack.units)})")

    def service_rows(self) -> list[dict[str, Any]]:
        rows = []
        table = {r["name"]: r for r in selection_summary(self.stack, self.stack.units)}
        for name in self.stack.units:
            m = self.stack.metrics(name)
            rows.append(
                {
                    "name": name,
                    "state": m["state"],
                    "pid": m["pid"],
                    "endpoint": table[name]["endpoint"],
                    "uptime_s": m["uptime_s"],
                    "restarts": m["restarts"],
                    "health": m["health"],
                    "rss_mb": m["rss_mb"],
                    "cpu_percent": m["cpu_percent"],
                    "replicas": len(self.stack.replicas(name)) if "." not in name else None,
                    "last_exit_code": m["last_exit_code"],
                }
            )
        return rows

    def status(self) -> dict[str, Any]:
        info = dict(self.info)
        info["uptime_s"] = round(time.time() - info.get("started", time.time()), 3)
        return {"stack": info, "services": self.service_rows()}

    async def events(self, req: Request) -> list[dict[str, Any]]:
        since = int(req.query.get("since", 0))
        if len(self.stack.events.events) <= since:
            await self._wait(float(req.query.get("wait", 0)))
        return [e.to_json() for e in self.stack.events.events[since:]]

    async def logs(self, req: Request, name: str | None) -> dict[str, Any]:
        names = [name] if name else list(self.stack.units)
        for n in names:
            self._known(n)
        since = {n: int(req.query[f"since.{n}"]) for n in names if f"since.{n}" in req.query}
        if since and all(self.stack.units[n].log.mark <= m for n, m in since.items()):
            await self._wait(float(req.query.get("wait", 0)))
        count = int(req.query.get("n", 100))
        out = {}
        for n in names:
            log = self.stack.units[n].log
            lines = log.since(since[n]) if n in since else log.tail(count)
            out[n] = {"lines": lines, "mark": log.mark}
        return out

    async def act(self, name: str, action: str, body: dict[str, Any]) -> Reply:
        self._known(name)
        if action not in ACTIONS:
            return 404, {"error": f"unknown action {action!r} (one of {', '.join(ACTIONS)})"}
        stack = self.stack
        if action == "restart":
            await stack.restart(name)
        elif action == "stop":
            stops = await stack.stop([name])
            return 200, {
                "stopped": [s.service for s in stops],
                "graceful": all(s.graceful for s in stops),
                "stops": [
                    {
                        "service": s.service,
                        "graceful": s.graceful,
                        "duration_s": s.duration_s,
                        "error": s.error,
                    }
                    for s in stops
                ],
            }
        elif action == "start":
            try:
                handle = (await stack.start([name]))[name]
            except StackError as e:
                return 409, {"error": str(e)}
            return 200, {"service": name, "state": str(stack.state(name)), "handle": _attrs(handle)}
        elif action == "kill":
            sig = parse_signal(body.get("signal", "SIGKILL"))
            return 200, {"signalled": stack.kill(name, int(sig)), "signal": sig.name}
        elif action == "pause":
            return 200, {"signalled": stack.pause(name), "signal": "SIGSTOP"}
        elif action == "resume":
            return 200, {"signalled": stack.resume(name), "signal": "SIGCONT"}
        return 200, {"service": name, "state": str(stack.state(name))}

    async def scale(self, name: str, replicas: int) -> dict[str, Any]:
        self._known(name)
        names = await self.stack.scale(name, replicas)
        return {
            "service": name,
            "replicas": names,
            "states": {n: str(self.stack.state(n)) for n in names},
        }


def _attrs(handle: Any) -> dict[str, Any]:
    """A handle as JSON-able attributes (what a pytest worker attached elsewhere receives)."""
    if handle is None:
        return {}
    if hasattr(handle, "__dict__"):
        return {k: v for k, v in vars(handle).items() if not k.startswith("_")}
    return {"value": handle}
