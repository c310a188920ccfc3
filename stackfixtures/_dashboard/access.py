"""Who may see the dashboard: whoever holds its token. Every request (the page, its assets, the
event stream, the actions) carries it in the URL (`?token=`: the page writes it into its own
assets' and requests' URLs) or in the `x-stack-token` header the page's buttons send; anything
else gets 403 and nothing more. No cookie: a browser sends a host's cookies to every port of
it, so one holding the token would reach any other server on 127.0.0.1 the browser visits."""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import parse_qs

Scope = dict[str, Any]
ASGIApp = Any

HEADER = b"x-stack-token"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def presented(scope: Scope) -> str | None:
    """The token in the URL or the header."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    given: str | None = (query.get("token") or [None])[0]
    for name, value in scope.get("headers", []):
        if name == HEADER:
            given = value.decode("latin-1")
    return given


class TokenGuard:
    """ASGI middleware: 403 unless the request holds `token`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # (lifespan is off; websockets are not served)
            return
        if same(presented(scope), self.token):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"9")],
            }
        )
        await send({"type": "http.response.body", "body": b"forbidden"})
