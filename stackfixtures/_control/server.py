"""The control server: a route table over the control protocol, served on the launcher's Unix
socket. Each route parses its request, awaits one protocol verb in the stack's loop (which is
the server's: no thread in between), and encodes the answer.

GET  /status                          {"stack": {...}, "services": [...]}
GET  /events?since=N&wait=S           events after the N-th (long-polls up to S seconds)
GET  /logs[/NAME]?n=N&since.NAME=M&wait=S
GET  /metrics                         Prometheus text
GET  /handles/NAME                    {"handle": {...}}
GET  /services/NAME/state             {"state": ...}
POST /start                           {"names": [...]}: started together, as the engine does
POST /stop                            {"names": [...] or null (all)}: one stop, dependents first
POST /services/NAME/ACTION            restart, kill ({"signal", "wait"}), pause, resume,
                                      wait ({"state", "timeout"})
POST /scale                           {"service": NAME, "replicas": N}
POST /reload                          re-read the definitions, restart what changed
POST /down                            stop the stack and its launcher
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from .._engine.tasks import TaskOwner
from ..errors import RequestRefused, StackError
from . import codec
from .http import Reply, Request, serve_unix

if TYPE_CHECKING:
    import asyncio

    from .local import LocalControl, LoopControl

T = TypeVar("T")
Action = Callable[["LoopControl", dict[str, str], Request], Any]
"""A route's work: (the verbs, the path's named groups, the request) -> a JSON-able answer, or
a coroutine giving one (awaited in the stack's loop)."""


def _arg(values: Mapping[str, Any], key: str, kind: Callable[[Any], T], *default: T) -> T:
    """A request's argument (from its JSON body or its query) as `kind`: RequestRefused naming
    it when it is missing or malformed (what our own client never sends), so that only such
    a request is answered "refused", never a bug in a verb."""
    if key not in values:
        if default:
            return default[0]
        raise RequestRefused(f"the request lacks {key!r}")
    try:
        return kind(values[key])
    except (TypeError, ValueError):
        raise RequestRefused(f"{key!r} must be {kind.__name__}, not {values[key]!r}") from None


def _body(req: Request) -> dict[str, Any]:
    try:
        body = req.json()
    except ValueError:
        raise RequestRefused("the request's body is not JSON") from None
    if not isinstance(body, dict):
        raise RequestRefused("the request's body is not a JSON object")
    return body


def _since(req: Request) -> dict[str, int]:
    return {k[6:]: _arg(req.query, k, int) for k in req.query if k.startswith("since.")}


def _names(req: Request) -> list[str] | None:
    names = _body(req).get("names")
    if names is None:
        return None
    if not isinstance(names, list):
        raise RequestRefused(f"'names' must be a list, not {names!r}")
    return [str(n) for n in names]


async def _started(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    handles = await c.start(_names(r) or [])
    return codec.started_to_json(handles, {n: c.state(n) for n in handles})


async def _stopped(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    return codec.stopped_to_json(await c.stop(_names(r)))


async def _restarted(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    handle = await c.restart(p["name"])
    return {
        "service": p["name"],
        "state": str(c.state(p["name"])),
        "handle": codec.handle_to_json(handle),
    }


async def _killed(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    body = _body(r)
    signal = body.get("signal", "SIGKILL")
    pids = await c.kill(p["name"], signal, _arg(body, "wait", float, 0.0))
    return codec.signalled_to_json(pids, signal)


async def _paused(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    return codec.signalled_to_json(await c.pause(p["name"]), "SIGSTOP")


async def _resumed(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    return codec.signalled_to_json(await c.resume(p["name"]), "SIGCONT")


async def _waited(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    body = _body(r)
    state = _arg(body, "state", str)
    await c.wait_for(p["name"], state, _arg(body, "timeout", float, 30.0))
    return {"service": p["name"], "state": state}


async def _scaled(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    body = _body(r)
    name = _arg(body, "service", str)
    return codec.scaled_to_json(name, await c.scale(name, _arg(body, "replicas", int)))


async def _logs(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    names = [p["name"]] if p.get("name") else None
    if names is None and r.query.get("names"):
        names = r.query["names"].split(",")
    q = r.query
    return await c.logs(names, _arg(q, "n", int, 100), _since(r), _arg(q, "wait", float, 0.0))


async def _events(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    q = r.query
    events = await c.events(_arg(q, "since", int, 0), _arg(q, "wait", float, 0.0))
    return [e.to_json() for e in events]


async def _down(c: LoopControl, p: dict[str, str], r: Request) -> Any:
    return {"stopping": await c.down()}


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
    ("POST", r"/start", _started),
    ("POST", r"/stop", _stopped),
    ("POST", SERVICE + "/restart", _restarted),
    ("POST", SERVICE + "/kill", _killed),
    ("POST", SERVICE + "/pause", _paused),
    ("POST", SERVICE + "/resume", _resumed),
    ("POST", SERVICE + "/wait", _waited),
    ("POST", r"/scale", _scaled),
    ("POST", r"/reload", lambda c, p, r: c.reload()),
    ("POST", r"/down", _down),
]
_COMPILED = [(m, re.compile(pattern + "$"), action) for m, pattern, action in ROUTES]


def _sole(error: BaseException) -> BaseException:
    """The one exception a group of one (nested or not) holds; a larger group is itself."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


class ControlServer:
    """Answers requests by routing them to `control`'s verbs, awaited in the stack's own loop
    (this server's) with no thread in between: a long poll (`logs -f`, `events -f`) holds no
    thread; only a metrics scrape, which blocks, builds its text in a worker thread."""

    def __init__(self, control: LocalControl) -> None:
        self.control = control
        self.connections = TaskOwner("control")

    async def __call__(self, req: Request) -> Reply:
        for method, pattern, action in _COMPILED:
            match = pattern.match(req.path.rstrip("/") or "/")
            if match is None or method != req.method:
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            try:
                body = action(self.control.verbs, params, req)
                if inspect.isawaitable(body):
                    body = await body
            except (StackError, TimeoutError) as e:
                return codec.error_status(e), codec.error_to_json(e)
            except BaseExceptionGroup as group:  # a TaskGroup's in a verb: its one error is it
                sole = _sole(group)
                if not isinstance(sole, (StackError, TimeoutError)):
                    raise
                return codec.error_status(sole), codec.error_to_json(sole)
            return (202 if req.path == "/down" else 200), body
        return 404, {"error": f"no such endpoint: {req.method} {req.path}"}

    async def serve(self, path: Path) -> asyncio.Server:
        return await serve_unix(path, self, self.connections)

    async def aclose(self) -> None:
        """Cancel and await the connections still open (a long poll, a verb mid-way): each
        verb sees its cancellation, and none outlives the server."""
        await self.connections.aclose()
