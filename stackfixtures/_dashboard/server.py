"""Serving the dashboard: a socket bound on loopback (a free port unless one is asked for),
the token its URL carries, and uvicorn's server as a task this object owns (started by
`async with`, stopped at its end within a bound, whatever is still connected)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from .._engine.tasks import cancel_and_wait
from .access import new_token
from .verbs import Verbs

LOOPBACK = "127.0.0.1"
STOPPING = 5.0
"""Seconds the server may take to stop (its streams end within one status refresh)."""


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host`:`port` (0: a free one); an OSError whose message says
    which address and why not (a port in use, a host this machine does not have)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise OSError(f"cannot serve the dashboard on {host}:{port}: {e}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise OSError(f"cannot serve the dashboard on {host}:{port}: {e.strerror or e}") from None
    return sock


class Dashboard:
    """The dashboard of the stack `control` runs (a LoopControl, or a blocking StackControl
    such as RemoteControl). Bound when made (OSError: see `bind`): `url` is known before it
    serves."""

    def __init__(self, control: Any, host: str = LOOPBACK, port: int = 0) -> None:
        self.verbs = Verbs(control)
        self.sock = bind(host, port)
        self.port = self.sock.getsockname()[1]
        self.token = new_token()
        shown = f"[{host}]" if ":" in host else host
        self.address = f"http://{shown}:{self.port}/"
        self.closing = asyncio.Event()
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The address with its token: a secret (printed once, never logged)."""
        return f"{self.address}?token={self.token}"

    async def __aenter__(self) -> Dashboard:
        import uvicorn  # (only when a dashboard is served)

        from .access import TokenGuard
        from .app import build

        app = TokenGuard(build(self.verbs, self.closing, self.token), self.token)
        config = uvicorn.Config(
            app,
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,  # the host process's logging is its own
            access_log=False,  # request lines hold the token
            server_header=False,
            timeout_graceful_shutdown=3,  # (streams end at once: see app._feed)
        )
        self._server = _quiet_server(config)
        self._task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[self.sock]), name="dashboard"
        )
        return self

    @property
    def serving(self) -> asyncio.Task[None] | None:
        """The server's task: done when it stopped (or failed)."""
        return self._task

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closing.set()
        task = self._task
        try:
            if task is not None and not task.done():
                self._server.should_exit = True
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(STOPPING):
                        await asyncio.shield(task)
        finally:
            await cancel_and_wait(task)  # (already over, unless it outlived the bound)
            self.sock.close()
            if self.verbs.pool is not None:  # its threads end with their request
                self.verbs.pool.shutdown(wait=False, cancel_futures=True)


def _quiet_server(config: Any) -> Any:
    """uvicorn's server without its signal handlers: the process serving the dashboard (the
    launcher, `stack dashboard`) handles SIGINT and SIGTERM itself."""
    import uvicorn

    class Quiet(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Quiet(config)
