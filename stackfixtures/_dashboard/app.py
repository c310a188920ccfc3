"""The dashboard's routes (Starlette): the page and its assets, the live stream (server-sent
events: the stack's events as they happen and its status after each and every few seconds),
a service's log lines, and the actions. Each is one control verb, through `Verbs`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import quote

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._control.codec import error_status
from .._control.console import error_text
from .._ended import exit_name
from .._engine.masking import hidden
from .._engine.tasks import cancel_and_wait
from ..errors import StackError
from .verbs import Verbs

ASSETS = {
    "dashboard.css": "text/css",
    "dashboard.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
T = TypeVar("T")
ACTIONS = ("restart", "stop", "start", "kill")
REFRESH = 3.0
"""Seconds between status updates while nothing happens (RSS, CPU, uptime move anyway)."""
LONGEST_WAIT = 10.0
"""The longest a log request may wait for new lines (each request is bounded)."""
HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",  # the token is in the URL: never sent on
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # everything from here, nothing from the network (and no inline script a log could inject)
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
}


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def build(verbs: Verbs, closing: asyncio.Event, token: str) -> Starlette:
    """The app for one stack; `closing` ends its streams (the server is stopping)."""
    # its assets' URLs carry the token (no cookie does: see access.py)
    html = _asset("index.html").decode()
    for name in ASSETS:
        html = html.replace(f'"assets/{name}"', f'"assets/{name}?token={quote(token)}"')

    async def page(request: Request) -> Response:
        return Response(html, media_type="text/html", headers=HEADERS)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return Response("not found", 404, media_type="text/plain")
        return Response(_asset(name), media_type=ASSETS[name], headers=HEADERS)

    async def status(request: Request) -> Response:
        return JSONResponse(_for_page(await verbs.status()), headers=HEADERS)

    async def logs(request: Request) -> Response:
        q = request.query_params
        try:
            n = max(1, min(int(q.get("n", "1000")), 10_000))
            since = int(q["since"]) if q.get("since") else None
            wait = max(0.0, min(float(q.get("wait", "0")), LONGEST_WAIT))
            asked = verbs.logs(q.get("service", ""), n, since, wait)
            chunk = await _unless_closing(asked, closing)
        except ValueError:
            return JSONResponse({"error": "error: n, since and wait are numbers"}, 400)
        except StackError as e:
            return JSONResponse({"error": error_text(e)}, error_status(e))
        if chunk is None:
            return JSONResponse({"error": "error: the dashboard stopped"}, 503)
        return JSONResponse(chunk, headers=HEADERS)

    async def act(request: Request) -> Response:
        action, name = request.path_params["action"], request.path_params["service"]
        if action not in ACTIONS:
            return JSONResponse({"error": f"error: no action {action!r}"}, 404)
        try:
            said = await verbs.act(action, name)
        except (StackError, TimeoutError) as e:  # the CLI's words for it
            return JSONResponse({"error": error_text(e)}, error_status(e))
        except OSError:  # (its launcher is gone: said as the CLI says it)
            return JSONResponse({"error": "error: the stack went away"}, 503)
        return JSONResponse({"said": said}, headers=HEADERS)

    async def stream(request: Request) -> Response:
        try:
            since = max(0, int(request.query_params.get("since") or 0))
        except ValueError:
            return JSONResponse({"error": "error: since is a number"}, 400)
        return EventSourceResponse(_feed(verbs, since, closing), headers=HEADERS, ping=15)

    routes = [
        Route("/", page),
        Route("/assets/{name}", asset),
        Route("/api/status", status),
        Route("/api/logs", logs),
        Route("/api/stream", stream),
        Route("/api/{action}/{service}", act, methods=["POST"]),
    ]
    return Starlette(routes=routes)


async def _feed(verbs: Verbs, since: int, closing: asyncio.Event) -> AsyncIterator[dict[str, Any]]:
    """Events as they come (each with its index), then the status they changed; the status
    every REFRESH seconds meanwhile. A stack that went away is said once, then the stream ends."""
    while not closing.is_set():
        try:
            events = await _unless_closing(verbs.events(since, REFRESH), closing)
            if events is None:
                return
            status = _for_page(await verbs.status())
        except OSError:
            yield {"event": "gone", "data": "the stack went away"}
            return
        except StackError as e:
            yield {"event": "problem", "data": error_text(e)}
            await asyncio.sleep(REFRESH)
            continue
        if events:
            numbered = [{"n": since + i, **e.to_json()} for i, e in enumerate(events)]
            since += len(events)
            yield {"event": "events", "data": json.dumps(numbered)}
        yield {"event": "status", "data": json.dumps(status)}


async def _unless_closing(asked: Awaitable[T], closing: asyncio.Event) -> T | None:
    """What `asked` (a long poll) answers, or None as soon as the dashboard stops: no request
    holds the server's stop up (a blocking one's thread ends with its own bounded wait)."""
    asking = asyncio.ensure_future(asked)
    stopping = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait({asking, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(stopping)
        if closing.is_set() or not asking.done():  # (or this task itself cancelled)
            await cancel_and_wait(asking)
    return None if asking.cancelled() or closing.is_set() else asking.result()


def _for_page(status: dict[str, Any]) -> dict[str, Any]:
    """Status as people's views show it: passwords hidden (***), last exits worded as the
    CLI's table words them."""
    shown: dict[str, Any] = hidden(status)
    for row in shown["services"]:
        row["last_exit"] = exit_name(row.get("last_exit_code"))
    return shown
