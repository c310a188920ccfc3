"""Who may see the dashboard: whoever holds its token. Every request (the page, its assets, the
event stream, the actions) carries it in the URL (`?token=`), in the `x-stack-token` header
the page's script sends, or in the cookie the first visit sets (HttpOnly, SameSite=Strict);
anything else gets 403 and nothing more. An action (a POST) needs the token in the URL or the
header: a cookie alone never changes the stack."""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

Scope = dict[str, Any]
ASGIApp = Any

HEADER = b"x-stack-token"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(port: int) -> str:
    """Cookies are shared by every port of a host: one name per dashboard."""
    return f"stack_dashboard_{port}"


def same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def presented(scope: Scope, cookie: str) -> tuple[str | None, str | None]:
    """(the token in the URL or header, the token in the cookie)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    explicit = (query.get("token") or [None])[0]
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == HEADER:
            explicit = value.decode("latin-1")
        elif name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # (a malformed cookie header: as if none)
                continue
    kept = jar[cookie].value if cookie in jar else None
    return explicit, kept


class TokenGuard:
    """ASGI middleware: 403 unless the request holds `token`; sets the cookie once it did."""

    def __init__(self, app: ASGIApp, token: str, cookie: str) -> None:
        self.app, self.token, self.cookie = app, token, cookie

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # (lifespan is off; websockets are not served)
            return
        explicit, kept = presented(scope, self.cookie)
        by_url = same(explicit, self.token)
        allowed = by_url or (scope["method"] in ("GET", "HEAD") and same(kept, self.token))
        if not allowed:
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"9")],
                }
            )
            await send({"type": "http.response.body", "body": b"forbidden"})
            return
        if not by_url or same(kept, self.token):
            await self.app(scope, receive, send)
            return
        value = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"set-cookie", value)]}
            await send(message)

        await self.app(scope, receive, with_cookie)
