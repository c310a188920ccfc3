"""http: passes when a GET answers with an expected status (2xx/3xx by default).

One GET on an asyncio connection, written and read with h11 (the HTTP library the control
server uses too): readiness is polled every few milliseconds on the launcher's start path,
where an HTTP client library's import (httpx: ~0.1 s with what it pulls in) and its per-check
client set-up would be most of the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..._define.container import ContainerProbe
from ..context import ServiceContext
from .base import why_not
from .registry import ProbeType, Render


class NoAnswer(Exception):
    """The server closed the connection without an HTTP answer."""


async def get_status(url: str, timeout: float) -> int:
    """The status of GET `url` (http or https), within `timeout` seconds for the whole
    exchange; raises OSError/TimeoutError for connection troubles, NoAnswer for none."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    ssl_context = None
    if https:
        import ssl

        ssl_context = ssl.create_default_context()
    connected = False
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=ssl_context)
            connected = True
            return await _exchange(reader, writer, parts.netloc or host, target)
    except TimeoutError:
        if connected:
            raise NoAnswer(f"connected, but no answer within {timeout:g}s") from None
        raise


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, target: str
) -> int:
    """Send the GET and read the answer's status line."""
    import h11  # on the first check: after the service was spawned, while it boots

    try:
        conn = h11.Connection(h11.CLIENT)
        headers = [("host", host), ("connection", "close")]
        request = conn.send(h11.Request(method="GET", target=target, headers=headers))
        writer.write(request + conn.send(h11.EndOfMessage()))
        await writer.drain()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                return int(event.status_code)
            elif isinstance(event, h11.ConnectionClosed):
                raise NoAnswer
    except h11.RemoteProtocolError as e:  # a garbled answer is no answer
        raise NoAnswer from e
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


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
            code = await get_status(url, self.timeout)
        except TimeoutError:
            return f"GET {url}: timed out after {self.timeout:g}s"
        except NoAnswer as e:
            return f"GET {url}: {e or 'the connection was closed without an answer'}"
        except OSError as e:
            return f"GET {url}: {why_not(e)}"
        ok = code in self.status if self.status else code < 400
        return None if ok else f"GET {url}: wrong answer: status {code}"


def http(
    url: str = "/health", status: tuple[int, ...] | list[int] = (), timeout: float = 2.0
) -> HttpProbe:
    """Ready when GET `url` answers with a status in `status` (default: below 400)."""
    return HttpProbe(url, tuple(status), timeout)


def _container(value: str, port: int | None, render: Render) -> ContainerProbe:
    """A path is on the container's own port; a URL says its port (else the container's)."""
    url = render(value)
    if url.startswith("/"):
        return ContainerProbe("http", port, url)
    parts = urlsplit(url)
    return ContainerProbe("http", parts.port or port, parts.path or "/")


def _compose(p: ContainerProbe) -> list[str]:
    """A GET with what most images have: curl, else wget, else Python."""
    url = f"http://localhost:{p.port}{p.path}"
    return [
        "CMD-SHELL",
        f"curl -fsS {url} >/dev/null 2>&1 || wget -q -O /dev/null {url} || "
        f"python3 -c \"import urllib.request; urllib.request.urlopen('{url}')\"",
    ]


PROBE = ProbeType(
    key="http",
    order=20,
    value=str,
    parse=http,
    container=_container,
    compose=_compose,
    k8s=lambda p: {"httpGet": {"path": p.path, "port": p.port}},
    export_rank=30,
)
"""`ready = { http = "/health" }` (a path on the service's port, or a URL)."""
