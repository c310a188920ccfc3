"""Compose's value forms read into the container kind's: durations, ports, volumes, restart
policies. Each reader returns the value, or raises ValueError saying why it cannot."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_LOOPBACK = ("", "127.0.0.1", "localhost")


def seconds(value: Any) -> float:
    """`1m30s`, `1.5s`, `100ms` (Go's durations, as Compose writes them) -> seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a duration (e.g. 10s, 1m30s)")
    if not isinstance(value, str):
        return float(value)
    text = value.strip()
    parts = list(_DURATION.finditer(text))
    if not text or "".join(m.group(0) for m in parts) != text:
        raise ValueError(f"{value!r} is not a duration (e.g. 10s, 1m30s)")
    return sum(float(m.group(1)) * _UNIT[m.group(2)] for m in parts)


def restart(value: Any) -> dict[str, Any] | None:
    """`no` | `always` | `unless-stopped` | `on-failure[:N]` -> the profile's `restart` table
    (None: never restarted, the profile's default). `unless-stopped` is `always`: a stack's
    services are only stopped by the stack."""
    text = str(value)
    if text in ("no", "False", "false"):
        return None
    if text in ("always", "unless-stopped"):
        return {"policy": "always"}
    policy, _, count = text.partition(":")
    if policy == "on-failure" and (not count or count.isdigit()):
        return {"policy": "on-failure", **({"max_restarts": int(count)} if count else {})}
    raise ValueError(
        f"{text!r} is not a restart policy (no, always, on-failure[:N], unless-stopped)"
    )


def port(value: Any) -> tuple[str, int | None]:
    """A `ports:` entry -> (container port as the kind writes it, the pinned host port or None
    for a free one). Short (`80`, `8080:80`, `127.0.0.1:8080:80`, `[::1]:8080:80`, `80/udp`)
    or long form (`{target, published, host_ip, protocol}`); published on loopback only. A
    ValueError names every problem of the entry at once."""
    if isinstance(value, dict):
        extra = set(value) - {"target", "published", "host_ip", "protocol", "mode", "name"}
        if extra:
            raise ValueError(f"cannot honour {', '.join(sorted(extra))} of a port")
        if value.get("mode", "ingress") not in ("ingress", "host"):
            raise ValueError(f"mode {value['mode']!r} is not a port mode")
        host_ip, published = str(value.get("host_ip", "")), value.get("published")
        target, proto = str(value.get("target", "")), str(value.get("protocol", "tcp"))
        said = ""
    else:
        host_ip, published, target, proto = _short_port(str(value))
        said = f"{value!r}: "
    wrong = []
    if host_ip.strip("[]") not in _LOOPBACK:
        wrong.append(f"host address {host_ip}: a stack publishes on 127.0.0.1 only")
    if not target.isdigit() or not 0 < int(target) < 65536:
        wrong.append(f"container port {target!r} is not one port (ranges: write each)")
    if proto not in ("", "tcp", "udp"):
        wrong.append(f"protocol {proto!r} (tcp or udp)")
    pinned = None if published in (None, "") else str(published)
    if pinned is not None and (not pinned.isdigit() or not 0 < int(pinned) < 65536):
        wrong.append(f"host port {published!r} is not one port")
    if wrong:
        first = wrong[0] if wrong[0].startswith("host address") else said + wrong[0]
        raise ValueError("; ".join([first, *wrong[1:]]))
    inside = target if proto in ("", "tcp") else f"{target}/{proto}"
    return inside, None if pinned is None else int(pinned)


def _short_port(text: str) -> tuple[str, str | None, str, str]:
    """`[HOST:][PUBLISHED:]TARGET[/PROTO]` -> (host, published, target, protocol); a host in
    brackets may hold colons (`[::1]`)."""
    text, _, proto = text.partition("/")
    host = ""
    if text.startswith("[") and "]:" in text:
        host, _, text = text.partition("]:")
        host += "]"
    parts = text.rsplit(":", 2 if not host else 1) if text.count(":") <= 2 else [text]
    if not host and len(parts) == 3:
        host = parts[0]
    published = parts[-2] if len(parts) > 1 and parts[-2] else None
    return host, published, parts[-1], proto


def host_path(source: str, compose_dir: Path, profile_dir: Path | None) -> str:
    """A bind mount's (or build context's) host path, written relative to the compose file:
    absolute (`profile_dir` None: an include, read again at each load, whichever file refines
    the service), or relative to the profile's dir as `./...` (a profile written once)."""
    expanded = Path(source).expanduser()
    if expanded.is_absolute():
        return str(expanded)
    full = Path(os.path.normpath(compose_dir / expanded))
    if profile_dir is None:
        return str(full)
    relative = os.path.relpath(full, os.path.normpath(profile_dir))
    return relative if relative.startswith("../") else f"./{relative}"


def is_path(source: str) -> bool:
    """A bind mount's source (`./x`, `../x`, `/x`, `~/x`, `.`), not a volume's name."""
    return source.startswith((".", "/", "~"))


def volume(value: Any, compose_dir: Path, profile_dir: Path | None) -> str:
    """A `volumes:` entry (short `SRC:DST[:ro|rw]` or long `{type, source, target, read_only}`)
    -> the kind's `NAME:path[:ro]` / `./host:path[:ro]`."""
    if isinstance(value, dict):
        extra = set(value) - {"type", "source", "target", "read_only"}
        kind = value.get("type", "volume")
        if kind not in ("volume", "bind") or extra:
            what = sorted(extra) or [f"type {kind}"]
            raise ValueError(f"cannot honour {', '.join(what)} of a volume")
        source, target = str(value.get("source", "")), str(value.get("target", ""))
        mode = "ro" if value.get("read_only") else ""
        if kind == "bind" and source and not is_path(source):
            source = "./" + source
    else:
        parts = str(value).split(":")
        if len(parts) == 1:
            raise ValueError(f"{value!r}: an anonymous volume (no source); name it (NAME:{value})")
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else ""
        if len(parts) > 3 or mode not in ("", "ro", "rw"):
            raise ValueError(f"{value!r}: cannot honour mode {':'.join(parts[2:])!r} (ro or rw)")
    if not source or not target.startswith("/"):
        raise ValueError(f"{value!r}: needs a source and an absolute container path")
    if is_path(source):
        source = host_path(source, compose_dir, profile_dir)
    return f"{source}:{target}" + (":ro" if mode == "ro" else "")
