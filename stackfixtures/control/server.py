"""The control server: a route table over the control protocol, served on the launcher's Unix
socket. Each route parses its request, calls one protocol verb in a worker thread (the verbs
block until the stack's loop has done the work), and encodes the answer.

GET  /status                          {"stack": {...}, "services": [...]}
GET  /events?since=N&wait=S           events after the N-th (long-polls up to S seconds)
GET  /logs[/NAME]?n=N&since.NAME=M&wait=S
GET  /metrics                         Prometheus text
GET  /handles/NAME                    {"handle": {...}}
GET  /services/NAME/state             {"state": ...}
POST /services/NAME/ACTION            start, stop, restart, kill ({"signal", "wait"}), pause,
                                      resume, wait ({"state", "timeout"})
POST /scale                           {"service": NAME, "replicas": N}
POST /reload                          re-read the definitions, restart what changed
POST /down                            stop the stack and its launcher
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..errors import StackError, UnknownService
from . import codec
from .http import Reply, Request, serve_unix
from .protocol import StackControl

Action = Callable[[StackControl, dict[str, str], Request], Any]
"""A route's work: (the control, the path's named groups, the request) -> a JSON-able answer."""


def _since(req: Request) -> dict[str, int]:
    return {k[6:]: int(v) for k, v in req.query.items() if k.startswith("since.")}


def _signalled(sig: str) -> Action:
    def act(c: StackControl, p: dict[str, str], r: Request) -> Any:
        body = r.json()
        if sig == "kill":
            signal = body.get("signal", "SIGKILL")
            pids = c.kill(p["name"], signal, float(body.get("wait", 0)))
            return {"signalled": pids, "signal": _signal_name(signal)}
        pids = c.pause(p["name"]) if sig == "pause" else c.resume(p["name"])
        return {"signalled": pids, "signal": "SIGSTOP" if sig == "pause" else "SIGCONT"}

    return act


def _signal_name(value: str | int) -> str:
    from ..define.policies import parse_signal

    return parse_signal(value).name


def _stopped(c: StackControl, p: dict[str, str], r: Request) -> Any:
    stops = c.stop([p["name"]])
    return {
        "stopped": [s.service for s in stops],
        "graceful": all(s.graceful for s in stops),
        "stops": codec.stops_to_json(stops),
    }


def _started(c: StackControl, p: dict[str, str], r: Request) -> Any:
    handle = c.start([p["name"]])[p["name"]]
    return {
        "service": p["name"],
        "state": str(c.state(p["name"])),
        "handle": codec.handle_to_json(handle),
    }


def _restarted(c: StackControl, p: dict[str, str], r: Request) -> Any:
    handle = c.restart(p["name"])
    return {
        "service": p["name"],
        "state": str(c.state(p["name"])),
        "handle": codec.handle_to_json(handle),
    }


def _waited(c: StackControl, p: dict[str, str], r: Request) -> Any:
    body = r.json()
    c.wait_for(p["name"], str(body["state"]), float(body.get("timeout", 30)))
    return {"service": p["name"], "state": str(body["state"])}


def _scaled(c: StackControl, p: dict[str, str], r: Request) -> Any:
    body = r.json()
    states = c.scale(str(body["service"]), int(body["replicas"]))
    return {"service": body["service"], "replicas": list(states), "states": states}


def _logs(c: StackControl, p: dict[str, str], r: Request) -> Any:
    names = [p["name"]] if p.get("name") else None
    if names is None and r.query.get("names"):
        names = r.query["names"].split(",")
    q = r.query
    return c.logs(names, int(q.get("n", 100)), _since(r), float(q.get("wait", 0)))


def _events(c: StackControl, p: dict[str, str], r: Request) -> Any:
    events = c.events(int(r.query.get("since", 0)), float(r.query.get("wait", 0)))
    return [e.to_json() for e in events]


SERVICE = r"/services/(?P<name>[^/]+)"
ROUTES: list[tuple[str, str, Action]] = [
    ("GET", r"/status", lambda c, p, r: c.status()),
    ("GET", r"/events", _events),
    ("GET", r"/logs(?:/(?P<name>[^/]+))?", _logs),
    ("GET", r"/metrics", lambda c, p, r: c.metrics()),
    (
        "GET",
        r"/handles/(?P<name>[^/]+)",
        lambda c, p, r: {"handle": codec.handle_to_json(c.handle(p["name"]))},
    ),
    ("GET", SERVICE + "/state", lambda c, p, r: {"state": str(c.state(p["name"]))}),
    ("POST", SERVICE + "/start", _started),
    ("POST", SERVICE + "/stop", _stopped),
    ("POST", SERVICE + "/restart", _restarted),
    ("POST", SERVICE + "/kill", _signalled("kill")),
    ("POST", SERVICE + "/pause", _signalled("pause")),
    ("POST", SERVICE + "/resume", _signalled("resume")),
    ("POST", SERVICE + "/wait", _waited),
    ("POST", r"/scale", _scaled),
    ("POST", r"/reload", lambda c, p, r: c.reload()),
    ("POST", r"/down", lambda c, p, r: {"stopping": c.down()}),
]
_COMPILED = [(m, re.compile(pattern + "$"), action) for m, pattern, action in ROUTES]


class ControlServer:
    """Answers requests by routing them to `control`'s verbs, each in a worker thread."""

    def __init__(self, control: StackControl) -> None:
        self.control = control
        # Long polls (`logs -f`, `events -f`) hold a thread each while they wait.
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="stack-control")

    async def __call__(self, req: Request) -> Reply:
        for method, pattern, action in _COMPILED:
            match = pattern.match(req.path.rstrip("/") or "/")
            if match is None or method != req.method:
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            loop = asyncio.get_running_loop()
            try:
                body = await loop.run_in_executor(self._pool, action, self.control, params, req)
            except UnknownService as e:
                return 404, codec.error_to_json(e)
            except StackError as e:
                return 409, codec.error_to_json(e)
            except TimeoutError as e:
                return 408, codec.error_to_json(e)
            except (KeyError, ValueError) as e:
                return 400, {"error": f"bad request: {e}", "type": type(e).__name__}
            return (202 if req.path == "/down" else 200), body
        return 404, {"error": f"no such endpoint: {req.method} {req.path}"}

    async def serve(self, path: Path) -> asyncio.Server:
        return await serve_unix(path, self)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
