"""Profiles: TOML in, validated objects out. Every error names the file and the key path.

A profile picks which services run and configures them; services can be declared in it alone
(a command, its dependencies, its probes), like a process-compose or compose file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from ..define import templates as wiring
from ..errors import ProfileError
from .schema import ProfileSpec

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_NAMES = frozenset({"ctx", "stack", "request", "self"})


@dataclass(frozen=True)
class Profile:
    """A loaded, validated profile and where it came from."""

    name: str
    path: Path
    spec: ProfileSpec
    raw: dict[str, Any]

    def error(self, key: str, problem: str) -> ProfileError:
        return ProfileError(str(self.path), key, problem)


def resolve_path(profile: str | Path, root: Path) -> Path:
    """`dev` -> `<root>/profiles/dev.toml`; a path (with a slash or .toml) is taken as is."""
    text = str(profile)
    if "/" in text or text.endswith(".toml"):
        path = Path(text)
        return path if path.is_absolute() else (Path.cwd() / path)
    return root / "profiles" / f"{text}.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        available = (
            sorted(p.stem for p in path.parent.glob("*.toml")) if path.parent.is_dir() else []
        )
        hint = f" (profiles here: {', '.join(available)})" if available else ""
        raise ProfileError(str(path), "", f"no such profile file{hint}") from None
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(str(path), "", f"invalid TOML: {e}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _raw_with_extends(path: Path, root: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ProfileError(str(path), "stack.extends", f"extends itself: {chain}")
    raw = _read_toml(path)
    parent = raw.get("stack", {}).get("extends") if isinstance(raw.get("stack"), dict) else None
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ProfileError(str(path), "stack.extends", "must be a profile name or path")
    parent_path = resolve_path(parent, root) if "/" not in parent else (path.parent / parent)
    base = _raw_with_extends(parent_path.resolve(), root, (*seen, path))
    merged = _merge(base, raw)
    merged["stack"].pop("extends", None)
    return merged


def raw_profile(path: Path, root: Path) -> dict[str, Any]:
    """A profile's TOML merged with what it extends, not yet validated."""
    return _raw_with_extends(path, root)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _validation_error(path: Path, e: ValidationError) -> ProfileError:
    problems = []
    for err in e.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        problems.append((_format_loc(loc), msg.removeprefix("Value error, ")))
    key, first = problems[0]
    more = "".join(f"\n{path}: {k}: {m}" for k, m in problems[1:])
    return ProfileError(str(path), key, first + more)


def load(profile: str | Path, root: Path) -> Profile:
    """Read, merge (`extends`) and validate a profile. Raises ProfileError, never a traceback."""
    path = resolve_path(profile, root).resolve()
    raw = _raw_with_extends(path, root)
    try:
        spec = ProfileSpec.model_validate(raw)
    except ValidationError as e:
        raise _validation_error(path, e) from None
    loaded = Profile(name=path.stem, path=path, spec=spec, raw=raw)
    _check_names(loaded)
    return loaded


def _check_names(p: Profile) -> None:
    for name, svc in p.spec.services.items():
        if not NAME.match(name) or name in RESERVED_NAMES:
            raise p.error(
                f"services.{name}",
                "service names must be Python identifiers (they become pytest fixtures) "
                f"and not one of {', '.join(sorted(RESERVED_NAMES))}",
            )
        for i, dep in enumerate(svc.dependency_names):
            if not NAME.match(dep):
                raise p.error(f"services.{name}.depends_on[{i}]", f"{dep!r} is not a service name")
    for i, name in enumerate(p.spec.stack.services or []):
        if not NAME.match(name):
            raise p.error(f"stack.services[{i}]", f"{name!r} is not a service name")


def check_wiring(p: Profile, service: str, deps: set[str], value: Any, key: str) -> None:
    """Every `${x.attr}` in `value` must name a dependency of `service`; `${x}` an own value."""
    if isinstance(value, dict):
        for k, v in value.items():
            check_wiring(p, service, deps, v, f"{key}.{k}")
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            check_wiring(p, service, deps, v, f"{key}[{i}]")
        return
    if not isinstance(value, str):
        return
    for name, attr in wiring.references(value):
        if attr is None and name not in wiring.OWN_KEYS:
            raise p.error(
                key,
                f"${{{name}}} is not a known value; use one of "
                + ", ".join(f"${{{k}}}" for k in sorted(wiring.OWN_KEYS))
                + " or ${service.attribute}",
            )
        if attr is not None and name not in deps:
            raise p.error(
                key,
                f"${{{name}.{attr}}} refers to {name!r}, which is not a dependency "
                f"of {service!r} (add it to depends_on)",
            )


def dump(data: dict[str, Any]) -> str:
    """A profile as TOML text (tomli-w), e.g. for `stack init`."""
    return tomli_w.dumps(data)
