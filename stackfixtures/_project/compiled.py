"""A validated profile, compiled: the warm start's shortcut (README: "The warm start").

After a profile validates, its checked form (each service's definition as plain data, what the
start path reads of the profile) is written as JSON to a private file of the user's cache
(`<cache>/profiles/`, 0700; the file 0600, written whole: `_engine/private_files.py`), under
a key that hashes every input the full path reads: the content of the profile and each file it
`extends`, of the `@service` modules it imports (`[stack] modules`, or the root's
`conftest.py`, and whether one appeared), the installed kinds (the metadata dirs, named for
their versions, of the distributions registering kinds, and their entry points),
stackfixtures' version and its own modules (sizes and change times: an edited checkout is
another stackfixtures), Python's version, the root, the working directory (a relative
`extends` path) and the services asked for. A start whose key is the same builds the project
from that file: no schema, no checks, only the kinds it runs imported. Any difference,
and any doubt (a file that does not parse, another key, one that is not a plain file of ours,
never followed through a link), is a miss: the full path, with its errors exactly as they were.

A profile's `@service` modules are code, and code imports other code the key does not see
(a helper module that gives a decorator its arguments): so a hit imports them, as the start
needs them anyway, and takes the compiled form only when the definitions they give are those
it was compiled from (every field, and each function's compiled code: `python_form`); else
it is a miss.

Not compiled (always the full path), because the key could not cover what they read:
- a profile that includes compose files: their interpolation reads the environment;
- a service of a kind that is not built in, a postgres template (its builder is code), or any
  definition whose plain form does not give back an equal definition (e.g. a stop action).

Why the user's cache and not the state dir: the state dir may be set by the profile itself, so
it is not known before the profile is read, and `stack up` makes it only after the load.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import marshal
import os
import stat
import sys
from pathlib import Path
from typing import Any

from .._define.bus import BusTarget
from .._define.graph import Graph
from .._define.options import Checked, model_of
from .._define.policies import LivenessPolicy, LogLimit, RestartPolicy, StopPolicy
from .._define.service import Scope, ServiceDefinition
from ..errors import Problem
from .inputs import digest

FORMAT = 2
"""The cache file's format: a different one is a miss."""
SWITCH = "STACKFIXTURES_PROFILE_CACHE"
"""`0` in the environment: never compiled, never read (the full path at every start)."""
MAX_BYTES = 4 << 20
TRACE = "STACKFIXTURES_TRACE_LOAD"
"""Test-only: a file to which `load` appends which path it took ("hit" or "miss") and, for a
hit, the sorted module names then imported (one JSON line per load)."""


class CachedProfile:
    """What the start path reads of a profile (its file, `[stack]`'s environment, the programs
    its entries run), given back by a hit; `problem` locates a key as the full path did."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.name: str = data["name"]
        self.path = Path(data["path"])
        stack = data["stack"]
        self.spec = _Spec(stack["env"], stack["conventional_env"], stack["unset_env"])
        self.programs: dict[str, dict[str, Any]] = data["programs"]
        self._where: dict[str, list[Any]] = data["where"]

    def problem(self, key: tuple[str | int, ...], message: str) -> Problem:
        file, at, line, column = self._where[json.dumps(list(key))]
        return Problem(file, at, message, line, column)


@dataclasses.dataclass(frozen=True)
class _Stack:
    env: dict[str, str]
    conventional_env: bool
    unset_env: list[str]


class _Spec:
    def __init__(self, env: dict[str, str], conventional: bool, unset: list[str]) -> None:
        self.stack = _Stack(env, conventional, unset)


def enabled() -> bool:
    return os.environ.get(SWITCH, "1") != "0"


def inputs(root: Path, profile: str | Path, services: list[str] | None) -> dict[str, Any]:
    """What a load is asked, and where from: part of the key, and what names its file. (Not
    the state dir: a load told one uses it, others the profile's, kept in the compiled form.)"""
    from .._config.profile_path import resolve_path

    return {
        "root": str(root),
        "profile": str(resolve_path(profile, root).resolve()),
        "services": services,
        "cwd": os.getcwd(),  # (an `extends = "x.toml"` is read from it)
    }


def where_to(asked: dict[str, Any]) -> Path:
    """The cache file of a load asked `asked` (one per root, profile, services, ...)."""
    from ..kinds.cache import cache_dir

    name = hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()[:24]
    return cache_dir("profiles") / f"{name}.json"


def installed() -> list[list[str]]:
    """The installed distributions that register kinds, or are stackfixtures: each one's
    metadata dir (named for its version) and its entry points as written. (Read from the
    dirs on sys.path, as importlib.metadata finds them, without importing it: a hit's cost.)"""
    found = []
    for place in sys.path:
        try:
            names = os.listdir(place or ".")
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(place, name, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                text = ""
            if "[stackfixtures.kinds]" in text or name.startswith("stackfixtures-"):
                found.append([place, name, text])
    return found


def _own_code() -> str:
    """stackfixtures' own modules as they are now (each one's size and change time): its
    version alone would not tell an edited checkout (an editable install) from the last one."""
    found: list[tuple[str, int, int]] = []
    todo = [Path(__file__).resolve().parent.parent]
    while todo:
        with os.scandir(todo.pop()) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False) and e.name != "__pycache__":
                    todo.append(Path(e.path))
                elif e.name.endswith(".py"):
                    info = e.stat(follow_symlinks=False)
                    found.append((e.path, info.st_size, info.st_mtime_ns))
    return hashlib.sha256(repr(sorted(found)).encode()).hexdigest()


def key(asked: dict[str, Any], files: list[str]) -> str:
    """The hash of every input of a load: see the module's doc."""
    parts: list[Any] = [FORMAT, installed(), _own_code(), sys.version, asked]
    parts.append([[f, digest(Path(f))] for f in files])
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _read(path: Path) -> dict[str, Any] | None:
    """The cache file, if it is a plain file of ours that parses; never through a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return None
        if info.st_mode & 0o077:
            return None
        data = f.read(MAX_BYTES + 1)
    try:
        found = json.loads(data) if len(data) <= MAX_BYTES else None
    except ValueError:
        return None
    return found if isinstance(found, dict) and found.get("format") == FORMAT else None


def lookup(asked: dict[str, Any]) -> dict[str, Any] | None:
    """The compiled form whose key matches, or None (a miss)."""
    if not enabled():
        return None
    try:
        found = _read(where_to(asked))
        if found is None or not isinstance(found.get("files"), list):
            return None
        if found.get("inputs") != asked or found.get("key") != key(asked, found["files"]):
            return None
        return found
    except Exception:  # a cache that cannot be used is a miss, whatever is wrong with it
        return None


# --- definitions as plain data, and back --------------------------------------------------


def _policy(value: Any) -> Any:
    if value is None:
        return None
    fields = dataclasses.asdict(value)
    if isinstance(value, StopPolicy):
        fields["signal"] = int(value.signal)
    return fields


def encode(d: ServiceDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(d):
        if f.name in ("function", "config_model", "options"):
            continue
        value = getattr(d, f.name)
        if f.name in ("stop_policy", "restart", "liveness", "logs"):
            value = _policy(value)
        elif f.name == "scope":
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    out["checked"] = d.options is not None  # (its config is then the options' plain dump)
    return out


def decode(data: dict[str, Any], base: ServiceDefinition) -> ServiceDefinition:
    import signal

    v = dict(data)
    checked = v.pop("checked")
    v["scope"] = Scope.parse(v["scope"])
    for name in ("params", "extra_deps", "watch", "watch_ignore"):
        v[name] = tuple(v[name])
    if v["stop_policy"] is not None:
        v["stop_policy"] = StopPolicy(
            **{**v["stop_policy"], "signal": signal.Signals(v["stop_policy"]["signal"])}
        )
    v["restart"] = RestartPolicy(**v["restart"])
    v["liveness"] = None if v["liveness"] is None else LivenessPolicy(**v["liveness"])
    v["logs"] = None if v["logs"] is None else LogLimit(**v["logs"])
    options = Checked(v["config"]) if checked else None
    return dataclasses.replace(
        base, **v, function=base.function, config_model=base.config_model, options=options
    )


def python_form(d: ServiceDefinition) -> dict[str, Any]:
    """An `@service` definition as its module gave it, as plain data (what a hit compares):
    every field, its options model's name, and its function's name and compiled code (the
    code of the functions it holds too), so an edited body is another definition."""
    function: Any = d.function
    code = hashlib.sha256(marshal.dumps(function.__code__)).hexdigest()
    model = d.config_model
    if model is not None and not isinstance(model, str):
        model = f"{model.__module__}:{model.__qualname__}"
    out = {**encode(d), "code": code, "model": model, "options": repr(d.options)}
    out["function"] = f"{function.__module__}:{function.__qualname__}"
    result: dict[str, Any] = json.loads(json.dumps(out))
    return result


def python_options(base: ServiceDefinition, written: dict[str, Any], profile_dir: str) -> Any:
    """The options of a service built on an `@service` with an options model (the user's own:
    its module imported it already), validated as the full path does, from the keys its
    profile entry wrote, by the model as it is now."""
    context = {"profile_dir": Path(profile_dir)}
    return model_of(base.config_model).model_validate(written, context=context)


def definition(data: dict[str, Any], python: dict[str, ServiceDefinition]) -> ServiceDefinition:
    """One compiled definition, over what it was built on: its kind's own (only the kinds it
    runs imported), or the `@service` of that name its module gave this time."""
    v = dict(data)
    where, name = v.pop("base")
    written = v.pop("written", None)
    profile_dir = v.pop("profile_dir", ".")
    if where == "kind":
        from .. import kinds

        kind = kinds.get(name)
        assert kind is not None, name
        return decode(v, kind.service)
    base = python[name]
    d = decode(v, base)
    if written is None:
        return d
    options = python_options(base, written, profile_dir)
    config = dict(options.model_dump(exclude_none=True))
    return dataclasses.replace(d, config=config, options=options)


def _python(found: dict[str, Any], root: Path) -> dict[str, ServiceDefinition]:
    """The `@service` definitions of the compiled profile's modules, imported now; a miss
    (ValueError) unless they are those it was compiled from."""
    if not found["modules"]:
        return {}
    from .modules import definitions_from_modules

    python = definitions_from_modules(found["modules"], root)
    if {n: python_form(d) for n, d in python.items()} != found["python"]:
        raise ValueError("the @service definitions changed")
    return python


def project_parts(found: dict[str, Any], root: Path) -> dict[str, Any] | None:
    """The keyword arguments of a Project, from a compiled form (`load` adds root, state dir);
    None (a miss) when it cannot be read as one, whatever is wrong with it (and when its
    modules, imported now, fail or give other definitions: the full path says why)."""
    try:
        return _parts(found, root)
    except Exception:  # (a file of ours, with its key, that this code cannot read: a miss)
        return None


def _parts(found: dict[str, Any], root: Path) -> dict[str, Any]:
    python = _python(found, root)
    defs = {name: definition(data, python) for name, data in found["definitions"].items()}
    events = found["events"]
    return {
        "profile": CachedProfile(found["profile"]),
        "graph": Graph(defs),
        "selected": found["selected"],
        "parallelism": found["parallelism"],
        "mode": found["mode"],
        "events": None if events is None else BusTarget(**events),
        "aside": found["aside"],
    }


def trace(path: str, **more: Any) -> None:
    """Test-only (TRACE): note which path a load took, and what was imported then."""
    where = os.environ.get(TRACE)
    if not where:
        return
    line = {"path": path, "pid": os.getpid(), "modules": sorted(sys.modules), **more}
    with open(where, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
