"""A dependency's handle as a container sees it. Handles speak of the host's loopback
(`http://127.0.0.1:8000`), which a container on a bridge network cannot reach: every
loopback address with a port the dependency is moved to is rewritten, in each string
attribute (url, dsn, ...), `host` and `port`. A container of the same stack network is moved
to its alias and container port (`http://web:80`); a process service to the stack's relay
on the network's gateway (`http://172.18.0.1:8000`). Anything else (an external host) stays."""

from __future__ import annotations

import re
from typing import Any

from ...kind_api import Handle

LOOPBACK = re.compile(r"(?<![\w.\-])(127\.0\.0\.1|localhost|\[::1\])(?::(\d{1,5}))?(?![\w.\-])")
"""A loopback host in text, with its port if one follows."""
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

Moved = dict[int, tuple[str, int]]
"""A loopback port -> the (host, port) a container reaches it at."""


def public(handle: Any) -> dict[str, Any]:
    """A handle's public attributes ({} for a handle that is no object with attributes: a
    plain value has no address to move)."""
    if handle is None or not hasattr(handle, "__dict__"):
        return {}
    return {k: v for k, v in vars(handle).items() if not k.startswith("_")}


def loopback_ports(handle: Any) -> set[int]:
    """The loopback ports a handle names: its `port` when its `host` is loopback, and every
    port after a loopback host in its string attributes."""
    attrs = public(handle)
    found = set()
    port = attrs.get("port")
    if isinstance(port, int) and str(attrs.get("host", "")) in LOOPBACK_HOSTS:
        found.add(port)
    for value in attrs.values():
        if isinstance(value, str):
            found |= {int(m.group(2)) for m in LOOPBACK.finditer(value) if m.group(2)}
    return {p for p in found if 0 < p < 65536}


def loopback_host(handle: Any) -> str:
    """The loopback host a handle's service listens on (what a relay forwards to)."""
    host = str(public(handle).get("host", "127.0.0.1"))
    return host.strip("[]") if host in LOOPBACK_HOSTS else "127.0.0.1"


def seen_inside(handle: Any, moved: Moved) -> Any:
    """`handle` with every loopback address in `moved` rewritten (unchanged when none is)."""
    if not moved:
        return handle
    attrs = public(handle)
    port = attrs.get("port")
    main = moved.get(port) if isinstance(port, int) else None
    host = (main or next(iter(moved.values())))[0]

    def rewrite(m: re.Match[str]) -> str:
        if m.group(2) is None:
            return host  # a loopback host alone (PGHOST-style): where its main port went
        to = moved.get(int(m.group(2)))
        return f"{to[0]}:{to[1]}" if to else m.group(0)

    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key == "port" and main is not None:
            out[key] = main[1]
        elif key == "host" and str(value) in LOOPBACK_HOSTS:
            out[key] = host
        elif isinstance(value, str):
            out[key] = LOOPBACK.sub(rewrite, value)
        else:
            out[key] = value
    return Handle(**out)


def container_ports(attrs: dict[str, Any], network: str, alias: str) -> Moved | None:
    """For a dependency's container (the engine's `attrs` of it) joined to `network` as
    `alias`: its published host ports -> (alias, container port); None when it is not there."""
    settings = attrs.get("NetworkSettings") or {}
    joined = (settings.get("Networks") or {}).get(network)
    if joined is None or alias not in (joined.get("Aliases") or []):
        return None
    moved: Moved = {}
    for inside, bindings in (settings.get("Ports") or {}).items():
        number = int(inside.split("/")[0])
        for binding in bindings or []:
            if str(binding.get("HostPort", "")).isdigit():
                moved[int(binding["HostPort"])] = (alias, number)
    return moved
