"""http: passes when a GET answers with an expected status (2xx/3xx by default), via httpx."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from ..context import ServiceContext
from .base import why_not


@dataclass(frozen=True)
class HttpProbe:
    url: str  # absolute, or a path like "/health" on the service's own host:port
    status: tuple[int, ...] = ()
    timeout: float = 2.0

    def describe(self) -> str:
        return f"http {self.url}"

    def resolved(self, ctx: ServiceContext) -> str:
        return f"http {self.resolve(ctx)}"

    def resolve(self, ctx: ServiceContext) -> str:
        url = ctx.render(self.url)
        if url.startswith("/"):
            url = f"http://{ctx.host}:{ctx.port}{url}"
        return url

    async def check(self, ctx: ServiceContext) -> str | None:
        url = self.resolve(ctx)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
                response = await client.get(url)
        except httpx.TimeoutException as e:
            waited = f"timed out after {self.timeout:g}s"
            connected = not isinstance(e, httpx.ConnectTimeout)
            return f"GET {url}: {waited}" + (" (connected, but no answer)" if connected else "")
        except httpx.RemoteProtocolError:
            return f"GET {url}: the connection was closed without an answer"
        except httpx.HTTPError as e:
            return f"GET {url}: {why_not(e)}"
        ok = response.status_code in self.status if self.status else response.status_code < 400
        return None if ok else f"GET {url}: wrong answer: status {response.status_code}"


def http(
    url: str = "/health", status: tuple[int, ...] | list[int] = (), timeout: float = 2.0
) -> HttpProbe:
    """Ready when GET `url` answers with a status in `status` (default: below 400)."""
    return HttpProbe(url, tuple(status), timeout)
