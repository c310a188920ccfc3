"""tcp: passes when a TCP connection to host:port is accepted."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from ..._define.container import ContainerProbe
from ..context import ServiceContext
from .base import why_not
from .registry import ProbeType, Render


@dataclass(frozen=True)
class TcpProbe:
    target: str = "${port}"  # "PORT", "HOST:PORT", templates allowed
    timeout: float = 1.0

    def describe(self) -> str:
        return f"tcp {self.target}"

    def resolved(self, ctx: ServiceContext) -> str:
        host, port = self.address(ctx)
        return f"tcp {host}:{port}"

    def address(self, ctx: ServiceContext) -> tuple[str, int]:
        text = ctx.render(self.target)
        host, _, port = text.rpartition(":")
        return (host or ctx.host), int(port)

    async def check(self, ctx: ServiceContext) -> str | None:
        host, port = self.address(ctx)
        try:
            async with asyncio.timeout(self.timeout):
                _, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            return f"connect {host}:{port}: timed out after {self.timeout:g}s"
        except OSError as e:
            return f"connect {host}:{port}: {why_not(e)}"
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return None


def tcp(target: str | int = "${port}", timeout: float = 1.0) -> TcpProbe:
    """Ready when `target` (a port, or host:port) accepts a TCP connection."""
    return TcpProbe(str(target), timeout)


def is_address(text: str) -> bool:
    """Whether `text` is a port, `host:port`, or has a `${...}` where the port goes."""
    port = text.rpartition(":")[2]
    return "${" in port or (port.isdigit() and 1 <= int(port) <= 65535)


def _parse(value: str | int) -> TcpProbe:
    """A profile's `tcp = ...`: a port, `host:port`, or a `${...}` that becomes one."""
    if not is_address(str(value)):
        raise ValueError(f"expected a port, host:port or ${{...}} (e.g. ${{port}}), not {value!r}")
    return tcp(value)


def _container(value: str | int, port: int | None, render: Render) -> ContainerProbe:
    return ContainerProbe("tcp", int(render(str(value)).rpartition(":")[2]))


def connect_shell(port: int | None) -> str:
    """A shell line that connects to `port` in a container, with what most images have."""
    return (
        f"nc -z localhost {port} 2>/dev/null || "
        f"python3 -c \"import socket; socket.create_connection(('localhost', {port}))\""
    )


def _compose(p: ContainerProbe) -> list[str]:
    return ["CMD-SHELL", connect_shell(p.port)]


PROBE = ProbeType(
    key="tcp",
    order=10,
    value=str | int,
    parse=_parse,
    container=_container,
    compose=_compose,
    k8s=lambda p: {"tcpSocket": {"port": p.port}},
    export_rank=20,
)
"""`ready = { tcp = "${port}" }` (or a port, or "host:port")."""
