"""The stack's network on an engine, and the stack as a container sees it from there.

One bridge network per stack and engine (`stackfixtures-STACKID`), made when its first
container joins, labelled with the stack's labels (the watchdog and the sweep remove it with
the stack's containers), removed after its last container left. Every container joins it with
its service name as alias: containers reach each other by name.

A container's dependencies are handed to it as it sees them (dependency_view.py): another
container of the network at its alias and container port; a process service, which listens on
the host's loopback only, through a relay of the stack (relay.py) on the network's gateway. A
relay is opened for each loopback port of a dependency's handle (the services a container
depends on, nothing else of the host) and closed when the last container that asked for it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import StartError
from ...kind_api import (
    ServiceContext,
    container_labels,
    record_engine,
    stack_labels,
    to_the_end,
)
from . import dependency_view as inside
from . import engine
from .relay import Relay

if TYPE_CHECKING:
    import docker

PREFIX = "stackfixtures-"
Target = tuple[str, int]  # a loopback (host, port) a relay forwards to


@dataclass
class StackNetwork:
    """The stack's network on one engine, with the containers and relays that use it."""

    name: str
    gateway: str
    subnet: str
    users: int = 0
    relays: dict[Target, Relay] = field(default_factory=dict)
    relay_users: dict[Target, int] = field(default_factory=dict)


_JOINED: dict[tuple[str, str], StackNetwork] = {}  # (stack id, engine URL) -> its network


@dataclass
class _Turns:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wanted: int = 0  # coroutines holding or waiting for it


_TURNS: dict[tuple[str, str], _Turns] = {}


@contextlib.asynccontextmanager
async def _turn(key: tuple[str, str]) -> AsyncIterator[None]:
    """The bookkeeping of one stack's network on one engine, one coroutine at a time; the lock
    forgotten once nobody holds or waits for it."""
    turns = _TURNS.setdefault(key, _Turns())
    turns.wanted += 1
    try:
        async with turns.lock:
            yield
    finally:
        turns.wanted -= 1
        if turns.wanted == 0:
            _TURNS.pop(key, None)


@dataclass
class OnNetwork:
    """A container service's place on the stack network: the engine's client, the network,
    and its dependencies' handles as seen from inside (`render` fills templates with them)."""

    ctx: ServiceContext
    client: docker.DockerClient
    url: str
    network: StackNetwork
    deps: dict[str, Any]

    def render(self, text: str) -> str:
        return self.ctx.render(text, self.deps)


def _create(
    made_by: docker.DockerClient, name: str, labels: dict[str, str], service: str
) -> StackNetwork:
    """Make the network (blocking). One of that name carrying this stack's labels is taken as
    it is; any other of that name is no one's to take."""
    import docker

    try:
        made = made_by.networks.create(name, driver="bridge", labels=labels, check_duplicate=True)
    except docker.errors.APIError as e:
        found = None
        with contextlib.suppress(docker.errors.DockerException):
            found = made_by.networks.get(name)
        theirs = (found.attrs.get("Labels") or {}) if found is not None else {}
        if found is None or any(theirs.get(k) != v for k, v in labels.items()):
            why = f"cannot make the stack's network {name}: {e}"
            raise StartError(service, "starting", why) from None
        made = found
    made.reload()
    config = ((made.attrs.get("IPAM") or {}).get("Config") or [{}])[0]
    subnet, gateway = str(config.get("Subnet") or ""), str(config.get("Gateway") or "")
    if subnet and not gateway:  # (an engine that does not say: the bridge's is the first)
        gateway = str(next(ipaddress.ip_network(subnet, strict=False).hosts()))
    return StackNetwork(name, gateway, subnet)


def _remove(made_by: docker.DockerClient, name: str) -> None:
    import docker

    with contextlib.suppress(docker.errors.DockerException, OSError):
        made_by.networks.get(name).remove()


async def _join(key: tuple[str, str], made_by: docker.DockerClient, ctx: Any) -> StackNetwork:
    async with _turn(key):
        net = _JOINED.get(key)
        if net is None:
            name = f"{PREFIX}{ctx.stack_id}"
            net = await asyncio.to_thread(_create, made_by, name, stack_labels(ctx), ctx.name)
            _JOINED[key] = net
        net.users += 1
        return net


async def _leave(
    key: tuple[str, str], made_by: docker.DockerClient, net: StackNetwork, targets: list[Target]
) -> None:
    """One container left (its relays released first): the last one removes the network."""
    async with _turn(key):
        await _release(net, targets)
        net.users -= 1
        if net.users > 0:
            return
        _JOINED.pop(key, None)
        for relay in net.relays.values():  # (none should be left)
            await relay.aclose()
        net.relays.clear()
        await asyncio.to_thread(_remove, made_by, net.name)


async def _given_back(key: tuple[str, str], net: StackNetwork, targets: list[Target]) -> None:
    async with _turn(key):
        await _release(net, targets)


async def _release(net: StackNetwork, targets: list[Target]) -> None:
    for target in targets:
        net.relay_users[target] = net.relay_users.get(target, 1) - 1
        if net.relay_users[target] <= 0:
            net.relay_users.pop(target, None)
            relay = net.relays.pop(target, None)
            if relay is not None:
                await relay.aclose()


async def _relays(
    key: tuple[str, str], net: StackNetwork, targets: list[Target], service: str, dep: str
) -> dict[Target, int]:
    """The relay of each target (started when the first container asks): where it listens."""
    async with _turn(key):
        ports, held = {}, []
        try:
            for target in targets:
                relay = net.relays.get(target)
                if relay is None:
                    relay = Relay(net.gateway, net.subnet, target, service, dep)
                    await relay.start()
                    net.relays[target] = relay
                net.relay_users[target] = net.relay_users.get(target, 0) + 1
                held.append(target)
                ports[target] = relay.port
        except BaseException:
            await _release(net, held)
            raise
        return ports


def _attrs_of(made_by: docker.DockerClient, labels: dict[str, str]) -> dict[str, Any]:
    """The engine's attributes of the running container carrying `labels` ({} if none): a
    dependency's, whichever kind ran it (the container kind, a data kind from an image)."""
    import docker

    wanted: dict[str, Any] = {"label": [f"{k}={v}" for k, v in labels.items()]}
    try:
        found = made_by.containers.list(filters=wanted)
    except (docker.errors.DockerException, OSError):
        return {}
    return dict(found[0].attrs) if found else {}


async def _seen_inside(
    on: OnNetwork, key: tuple[str, str], held: list[Target], say: Any
) -> dict[str, Any]:
    """Each dependency's handle as the container sees it; relays taken for process services
    (appended to `held`, released by the caller)."""
    seen = {}
    for name, handle in on.ctx.deps.items():
        ports = inside.loopback_ports(handle)
        moved: inside.Moved = {}
        if ports:  # a container of the stack's? (found by its labels)
            labels = container_labels(on.ctx, name)
            attrs = await asyncio.to_thread(_attrs_of, on.client, labels)
            moved = inside.container_ports(attrs, on.network.name, name) or {}
        targets = [(inside.loopback_host(handle), p) for p in sorted(ports - moved.keys())]
        if targets:
            work = _relays(key, on.network, targets, on.ctx.name, name)
            got = await to_the_end(work, lambda p: _given_back(key, on.network, list(p)))
            held += targets
            for (host, port), at in got.items():
                moved[port] = (on.network.gateway, at)
                say(f"[stackfixtures] {name} ({host}:{port}) is {on.network.gateway}:{at} here")
        seen[name] = inside.seen_inside(handle, moved)
    return seen


@contextlib.asynccontextmanager
async def joined(ctx: ServiceContext, url: str) -> AsyncIterator[OnNetwork]:
    """The service `ctx`'s place on the stack network of the engine at `url`, for one
    container's life: the engine recorded in the ledger first, the network made if it is the
    first, the dependencies as seen from inside; all given back at the end."""
    made_by = await asyncio.to_thread(engine.client, url)
    with engine.closing(made_by):
        record_engine(ctx, url)  # before anything is made there: a watchdog must know where
        key = (ctx.stack_id, url)
        held: list[Target] = []
        net = await to_the_end(_join(key, made_by, ctx), lambda net: _leave(key, made_by, net, []))
        try:
            on = OnNetwork(ctx, made_by, url, net, dict(ctx.deps))
            on.deps = await _seen_inside(on, key, held, ctx.log.write)
            yield on
        finally:
            await to_the_end(_leave(key, made_by, net, held))


def endpoint(made_by: docker.DockerClient, on: OnNetwork) -> dict[str, Any]:
    """The create arguments that join a container to the network with its service name as
    alias."""
    config = made_by.api.create_endpoint_config(aliases=[on.ctx.name])
    return {"network": on.network.name, "networking_config": {on.network.name: config}}
