"""Profiles: TOML in, validated objects out. Every mistake of a file is reported at once, each
with its file:line:column and key path (see read.py for reading, explain.py for the words).

A profile picks which services run and configures them; services can be declared in it alone
(a command, its dependencies, its probes), like a process-compose or compose file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ValidationError

from .._define.templates import SHELL_NAME
from ..errors import Problem, ProfileError
from .explain import describe, explain
from .positions import KeyPath, format_path
from .read import Origins, raw_profile, read_profile, resolve_path
from .schema import BenchSpec, ProfileSpec, ServiceSpec, StackSpec
from .suggest import did_you_mean

__all__ = ["Profile", "dump", "raw_profile", "resolve_path", "validate_profile"]

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_NAMES = frozenset({"ctx", "stack", "request", "self"})
MAX_NAME = 63
"""The longest service name: it names files (its log, its data dir, with a replica's `.N`) that
must fit a file name's 255 bytes, and an environment prefix (`<NAME>_URL`)."""
NUL = "contains a NUL character (\\0), which no command line, environment variable or path can hold"
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_key(key: str) -> KeyPath:
    """`services.a.command[1]` -> `("services", "a", "command", 1)`."""
    return tuple(int(m.group(2)) if m.group(2) else m.group(1) for m in _PART.finditer(key))


@dataclass
class Profile:
    """A loaded profile, where it came from, and the problems found in it so far."""

    name: str
    path: Path
    spec: ProfileSpec
    raw: dict[str, Any]
    origins: Origins | None = None
    problems: list[Problem] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)  # services too broken to check further

    def problem(self, key: KeyPath | str, message: str) -> Problem:
        """A Problem at `key`, located in the file that wrote it."""
        path = parse_key(key) if isinstance(key, str) else key
        file, line, column = self.origins.find(path) if self.origins else (str(self.path), 0, 0)
        return Problem(file, format_path(path) if path else "", message, line, column)

    def add(self, key: KeyPath | str, message: str) -> None:
        """Note a problem; all of them are reported together by `check()`."""
        found = self.problem(key, message)
        if all((p.key, p.message) != (found.key, found.message) for p in self.problems):
            self.problems.append(found)

    def error(self, key: KeyPath | str, problem: str) -> ProfileError:
        """A ProfileError for one problem (located)."""
        return ProfileError.of([self.problem(key, problem)])

    def check(self) -> None:
        """Raise every problem noted, sorted by position, as one ProfileError."""
        if self.problems:
            raise ProfileError.of(self.problems)


def _validated(profile: Profile, path: KeyPath, model: type[BaseModel], data: Any) -> Any:
    """`data` validated by `model`, each of its mistakes noted. The parts with mistakes are then
    left out, so that the rest can still be checked (None if nothing valid is left)."""
    if data is None:
        data = {}
    for attempt in range(4):
        try:
            return model.model_validate(data)
        except ValidationError as e:
            found = explain(e.errors(), data, model)
        if attempt == 0:
            for rel, message in found:
                profile.add((*path, *rel), message)
        bad = {rel[0] for rel, _ in found if rel}
        if not isinstance(data, dict) or not bad & set(data):
            return None
        data = {k: v for k, v in data.items() if k not in bad}
    return None


def _spec(profile: Profile) -> ProfileSpec:
    raw = profile.raw
    for key in raw:
        if key not in ProfileSpec.model_fields:
            hint = did_you_mean(key, ProfileSpec.model_fields)
            profile.add((key,), "unknown key" + hint)
    stack = _validated(profile, ("stack",), StackSpec, raw.get("stack")) or StackSpec()
    bench = _validated(profile, ("bench",), BenchSpec, raw.get("bench")) or BenchSpec()
    services: dict[str, ServiceSpec] = {}
    table = raw.get("services", {})
    if not isinstance(table, dict):
        profile.add(("services",), f"wrong type (expected a table, found {describe(table)})")
        table = {}
    for name, body in table.items():
        if not isinstance(body, dict):
            found = describe(body)
            profile.add(("services", name), f"wrong type (expected a table, found {found})")
            profile.invalid.add(name)
            continue
        spec = _validated(profile, ("services", name), ServiceSpec, body)
        if spec is None:
            profile.invalid.add(name)
        services[name] = spec or ServiceSpec()
    return ProfileSpec.model_construct(stack=stack, services=services, bench=bench)


def validate_profile(profile: str | Path, root: Path, strict: bool = True) -> Profile:
    """Read, merge (`extends`) and validate a profile. Raises ProfileError with every problem
    found, never a traceback; with `strict=False` the problems are left in `.problems` for the
    caller to add its own to (the project's checks) and raise together."""
    path = resolve_path(profile, root).resolve()
    raw, origins = read_profile(path, root)
    loaded = Profile(name=path.stem, path=path, spec=ProfileSpec(), raw=raw, origins=origins)
    loaded.problems += origins.problems  # what an included compose file cannot honour
    loaded.spec = _spec(loaded)
    _check_names(loaded)
    _check_text(loaded, raw, ())
    _check_env_names(loaded)
    if strict:
        loaded.check()
    return loaded


def name_too_long(name: str) -> str | None:
    """Why `name` is too long to be a service's name, or None."""
    if len(name) <= MAX_NAME:
        return None
    return f"a service name is at most {MAX_NAME} characters (this one has {len(name)})"


def _check_names(p: Profile) -> None:
    for name, svc in p.spec.services.items():
        if not NAME.match(name) or name in RESERVED_NAMES:
            p.add(
                ("services", name),
                "service names must be Python identifiers (they become pytest fixtures) "
                f"and not one of {', '.join(sorted(RESERVED_NAMES))}",
            )
        elif too_long := name_too_long(name):
            p.add(("services", name), too_long)
        for i, dep in enumerate(svc.dependency_names):
            if not NAME.match(dep):
                where = (
                    "services",
                    name,
                    "depends_on",
                    i if isinstance(svc.depends_on, list) else dep,
                )
                p.add(where, f"{dep!r} is not a service name")
    for i, name in enumerate(p.spec.stack.services or []):
        if not NAME.match(name):
            p.add(("stack", "services", i), f"{name!r} is not a service name")


def _check_text(p: Profile, value: Any, at: KeyPath) -> None:
    """A NUL character anywhere (a key or a string value): no exec, environ or path takes one."""
    if isinstance(value, dict):
        for k, v in value.items():
            if "\0" in k:
                p.add((*at, k), NUL)
            _check_text(p, v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_text(p, v, (*at, i))
    elif isinstance(value, str) and "\0" in value:
        p.add(at, NUL)


def _check_env_names(p: Profile) -> None:
    """Names a process environment can hold (not empty, no `=`), and for `[stack.env]`, whose
    names `stack env` prints for a shell, names a shell can set."""
    for name, svc in p.spec.services.items():
        tables: list[tuple[KeyPath, dict[str, Any]]] = [(("services", name, "env"), svc.env)]
        if svc.export is not None:
            tables.append((("services", name, "export", "env"), svc.export.env))
        for where, env in tables:
            for key in env:
                if not key or "=" in key:
                    p.add((*where, key), "not a variable name (it must not be empty or hold '=')")
    for key in p.spec.stack.env:
        if not SHELL_NAME.match(key):
            p.add(
                ("stack", "env", key),
                "not a variable name a shell can set (letters, digits and _, not starting "
                "with a digit)",
            )


def dump(data: dict[str, Any]) -> str:
    """A profile as TOML text (tomli-w), e.g. for `stack init`."""
    return tomli_w.dumps(data)
