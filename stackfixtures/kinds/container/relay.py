"""A relay the stack owns: it listens on the stack network's gateway address (the host's side
of the bridge) and forwards each connection to a process service's loopback port, so that a
container reaches a process service that listens on 127.0.0.1 only, and nothing else of the
host's loopback. It accepts only peers of the stack network's subnet (the stack's containers,
and the host itself through the bridge)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress

from ...errors import StartError
from ...kind_api import cancel_and_wait

CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy `reader` to `writer` until its end, then half-close `writer` (the other way may go
    on: a client that sent its request and waits for the answer)."""
    with contextlib.suppress(OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


class Relay:
    """(gateway, port) -> (target host, target port); started by `start`, ended by `aclose`,
    which cancels and awaits every connection it serves."""

    def __init__(
        self, gateway: str, subnet: str, target: tuple[str, int], service: str, dep: str = ""
    ) -> None:
        """`service`: the container service it is for; `dep`: the one it reaches, by name."""
        self.gateway, self.target, self.service, self.dep = gateway, target, service, dep
        self.port = 0  # where it listens, once started
        self._subnet = ipaddress.ip_network(subnet, strict=False) if subnet else None
        self._server: asyncio.Server | None = None
        self._serving: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on the gateway, on the target's own port number when it is free there (the
        address a container is given then differs from the host's in its host part only),
        else on any free one. StartError when the gateway is no address of this machine (the
        engine runs elsewhere: no relay can reach a loopback service from there)."""
        if not self.gateway or not self._subnet:  # ("" would listen on every address)
            why = "the engine gave no gateway address of the stack network to relay on"
            raise StartError(self.service, "starting", why)
        for port in (self.target[1], 0):
            try:
                self._server = await asyncio.start_server(self._serve, self.gateway, port)
                break
            except OSError as e:
                if e.errno == errno.EADDRINUSE and port:
                    continue
                why = (
                    f"it reaches {self.dep or 'a service'} ({self.target[0]}:{self.target[1]}, "
                    f"on the host's loopback) through a relay on the stack network's gateway "
                    f"{self.gateway}, which cannot listen there ({e}): is the container "
                    "engine on another machine? Containers reach the process services of a "
                    "stack only when its engine runs on this machine"
                )
                raise StartError(self.service, "starting", why) from None
        assert self._server is not None
        self.port = int(self._server.sockets[0].getsockname()[1])

    def _allowed(self, peer: object) -> bool:
        if self._subnet is None or not isinstance(peer, tuple):
            return False
        with contextlib.suppress(ValueError):
            return ipaddress.ip_address(str(peer[0])) in self._subnet
        return False

    async def _serve(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        me = asyncio.current_task()
        if me is not None:
            self._serving.add(me)  # (ours to cancel and await at aclose)
        try:
            if not self._allowed(down_w.get_extra_info("peername")):
                return  # not one of the stack's containers
            try:
                up_r, up_w = await asyncio.open_connection(*self.target)
            except OSError:
                return  # the service is not there (any more): the client sees a closed one
            try:
                async with asyncio.TaskGroup() as both:
                    both.create_task(_pipe(down_r, up_w))
                    both.create_task(_pipe(up_r, down_w))
            finally:
                up_w.close()
        finally:
            down_w.close()
            if me is not None:
                self._serving.discard(me)

    async def aclose(self) -> None:
        """Stop listening; every connection still served is cancelled and awaited."""
        if self._server is None:
            return
        self._server.close()
        await cancel_and_wait(*self._serving)
        with contextlib.suppress(OSError):
            await self._server.wait_closed()
