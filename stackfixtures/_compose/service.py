"""One Compose service -> one profile service of kind `container` (the kind's options: image,
build, command, entrypoint, ports, volumes, healthcheck, user, workdir; the generic env,
restart, stop, replicas). `depends_on` and `profiles` concern the whole
file: document.py reads them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._problem import Problem
from . import values
from .interpolate import DotenvProblem, dotenv
from .tree import Path as TreePath

HONOURED_ELSEWHERE = frozenset({"depends_on", "profiles"})
IGNORED = frozenset({"expose"})
"""`expose` documents ports; on the stack's network every port of a container is reachable."""

_HEALTH_KEYS = {"test", "interval", "timeout", "retries", "start_period", "disable"}
_BUILD_KEYS = {"context", "dockerfile", "args"}


@dataclass
class Mapped:
    """A profile service's table, where each of its keys came from (a path of the compose
    file), and what could not be honoured (compose path, why)."""

    body: dict[str, Any] = field(default_factory=dict)
    sources: dict[tuple[str | int, ...], TreePath] = field(default_factory=dict)
    problems: list[tuple[TreePath, str]] = field(default_factory=list)
    health_disabled: bool = False
    held: set[str] = field(default_factory=set)  # env_file values it holds: `NAME (file)`
    elsewhere: list[Problem] = field(default_factory=list)  # in its env files, at their lines
    base: TreePath = ()  # the service's path in the compose file


@dataclass
class Places:
    """Where relative paths are read from (the compose file's dir) and written for (the
    profile's dir; None: written absolute), and the variables `environment: [NAME]` takes."""

    compose_dir: Path
    profile_dir: Path | None
    env: Mapping[str, str]


def what(value: Any) -> str:
    """`a list`, `a table`, ...: what a YAML value is, for people."""
    for kind, word in ((bool, "a boolean"), (dict, "a table"), (list, "a list"), (str, "a string")):
        if isinstance(value, kind):
            return word
    return "nothing" if value is None else "a number"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _argv(value: Any) -> str | list[str]:
    if isinstance(value, list):
        return [_text(v) for v in value]
    if isinstance(value, str):
        return value
    raise ValueError("expected a string or a list of strings")


def _pairs(value: Any) -> list[tuple[str, Any]]:
    """`{K: v}` or `["K=v", "K"]` (Compose's two forms of environment and args)."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list):
        out: list[tuple[str, Any]] = []
        for item in value:
            key, eq, v = str(item).partition("=")
            out.append((key, v if eq else None))
        return out
    raise ValueError("expected a map or a list of NAME=value")


def map_service(name: str, svc: dict[str, Any], places: Places) -> Mapped:
    """Compose service `name` (interpolated) as a profile table of kind `container`."""
    base: TreePath = ("services", name)
    out = Mapped(base=base)
    put = _putter(out, base)
    out.body["kind"] = "container"
    out.sources[("kind",)] = base
    for key, value in svc.items():
        if key.startswith("x-") or key in HONOURED_ELSEWHERE or key in IGNORED:
            continue
        reader = _READERS.get(key)
        if reader is None:
            out.problems.append(((*base, key), "cannot be honoured by a container service"))
            continue
        try:
            reader(out, put, value, places)
        except ValueError as e:
            out.problems.append(((*base, key), str(e)))
        except (TypeError, AttributeError, KeyError):  # a shape the reader does not take
            out.problems.append(((*base, key), f"not a form Compose takes ({what(value)})"))
    if "image" not in out.body and "build" not in out.body:
        out.problems.append((base, "needs an image or a build"))
    return out


Put = Callable[[tuple[str | int, ...], Any, tuple[str | int, ...]], None]
Reader = Callable[["Mapped", Put, Any, "Places"], None]


def _putter(out: Mapped, base: TreePath) -> Put:
    def put(key: tuple[str | int, ...], value: Any, source: tuple[str | int, ...]) -> None:
        table: dict[Any, Any] = out.body
        for part in key[:-1]:
            table = table.setdefault(part, {})
        table[key[-1]] = value
        out.sources[key] = (*base, *source)

    return put


def _text_as(key: str, to: str) -> Reader:
    """A string option under another name (`working_dir` -> `workdir`)."""

    def read(out: Mapped, put: Put, value: Any, places: Places) -> None:
        put((to,), _text(value), (key,))

    return read


def _build(out: Mapped, put: Put, value: Any, places: Places) -> None:
    spec = {"context": value} if isinstance(value, str) else value
    if not isinstance(spec, dict):
        raise ValueError("expected a context path or a table")
    extra = sorted(k for k in set(spec) - _BUILD_KEYS if not str(k).startswith("x-"))
    if extra:
        raise ValueError(f"cannot honour {', '.join(extra)} of a build (context, dockerfile, args)")
    context = _text(spec.get("context", "."))
    _build_context(out, context, places)
    table: dict[str, Any] = {
        "context": values.host_path(context, places.compose_dir, places.profile_dir)
    }
    if "dockerfile" in spec:
        table["dockerfile"] = _text(spec["dockerfile"])
    if "args" in spec:  # `NAME` alone: its value here, or not passed
        given = [(k, places.env.get(k) if v is None else _text(v)) for k, v in _pairs(spec["args"])]
        table["args"] = {k: v for k, v in given if v is not None}
    put(("build",), table, ("build",))


def _build_context(out: Mapped, context: str, places: Places) -> None:
    """A context that is not there: a problem now (`stack validate`), not when the service
    starts (the Dockerfile in it may still be written by then)."""
    where = places.compose_dir / Path(context).expanduser()
    if not where.is_dir():
        out.problems.append(((*out.base, "build", "context"), f"{where}: no such directory"))


def _command(key: str) -> Reader:
    def read(out: Mapped, put: Put, value: Any, places: Places) -> None:
        if value is not None:
            put((key,), _argv(value), (key,))

    return read


def _environment(out: Mapped, put: Put, value: Any, places: Places) -> None:
    for i, (k, v) in enumerate(_pairs(value)):
        at = ("environment", k if isinstance(value, dict) else i)
        if v is None:  # `NAME` alone: its value here, or not set at all
            if k in places.env:
                put(("env", k), places.env[k].replace("${", "$${"), at)
            continue
        put(("env", k), _text(v), at)


def _env_file(out: Mapped, put: Put, value: Any, places: Places) -> None:
    files = value if isinstance(value, list) else [value]
    for i, item in enumerate(files):
        entry = item if isinstance(item, dict) else {"path": item}
        extra = sorted(set(entry) - {"path", "required"})
        if extra:
            raise ValueError(f"cannot honour {', '.join(extra)} of an env_file (path, required)")
        path = places.compose_dir / _text(entry.get("path"))
        source = ("env_file", i) if isinstance(value, list) else ("env_file",)
        try:
            text = path.read_text()
        except OSError as e:
            if entry.get("required", True):
                raise ValueError(f"{path}: {e.strerror or e}") from None
            continue
        refused: list[DotenvProblem] = []
        read = dotenv(text, places.env, refused)
        out.elsewhere += [Problem(str(path), k, why, line, 1) for line, k, why in refused]
        for k, v in read.items():
            if k not in out.body.get("env", {}):  # `environment` wins over env_file
                put(("env", k), v.replace("${", "$${"), source)
                out.held.add(f"{k} ({_text(entry.get('path'))})")


def _ports(out: Mapped, put: Put, value: Any, places: Places) -> None:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    free: list[str] = []
    for i, item in enumerate(value):
        try:
            inside, pinned = values.port(item)
        except ValueError as e:
            out.problems.append(((*out.base, "ports", i), str(e)))
            continue
        if inside in out.body.get("ports", {}):
            out.problems.append(((*out.base, "ports", i), f"container port {inside} twice"))
            continue
        if pinned is None:
            free.append(inside)
        put(("ports", inside), pinned if pinned is not None else "${port}", ("ports", i))
    if len(free) > 1:
        raise ValueError(
            f"{', '.join(free)}: a service has one free port (${{port}}); "
            f"pin the others (HOST:{free[1]})"
        )


def _volumes(out: Mapped, put: Put, value: Any, places: Places) -> None:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    mounts = []
    for i, item in enumerate(value):
        try:
            mounts.append(values.volume(item, places.compose_dir, places.profile_dir))
        except ValueError as e:
            out.problems.append(((*out.base, "volumes", i), str(e)))
    if mounts:
        put(("volumes",), mounts, ("volumes",))


def _healthcheck(out: Mapped, put: Put, value: Any, places: Places) -> None:
    if not isinstance(value, dict):
        raise ValueError("expected a table")
    extra = sorted(set(value) - _HEALTH_KEYS)
    if extra:
        raise ValueError(
            f"cannot honour {', '.join(extra)} (test, interval, timeout, retries, start_period)"
        )
    test = value.get("test")
    if value.get("disable") or test in (["NONE"], "NONE"):
        out.health_disabled = True
        return
    if test is None:  # the image's own check, at the image's own timings
        timings = sorted(set(value) - {"disable"})
        if timings:
            raise ValueError(f"{', '.join(timings)} without a test: write the test too")
        put(("healthcheck",), "image", ("healthcheck",))
        return
    table: dict[str, Any] = {"test": _argv(test)}
    for key in ("interval", "timeout", "start_period"):
        if key in value:
            table[key] = values.seconds(value[key])
    if "retries" in value:
        table["retries"] = int(value["retries"])
    put(("healthcheck",), table, ("healthcheck",))


def _restart(out: Mapped, put: Put, value: Any, places: Places) -> None:
    policy = values.restart(value)
    if policy is not None:
        put(("restart",), policy, ("restart",))


def _stop_signal(out: Mapped, put: Put, value: Any, places: Places) -> None:
    put(("stop", "signal"), _text(value), ("stop_signal",))


def _stop_grace(out: Mapped, put: Put, value: Any, places: Places) -> None:
    put(("stop", "grace"), values.seconds(value), ("stop_grace_period",))


def _deploy(out: Mapped, put: Put, value: Any, places: Places) -> None:
    if not isinstance(value, dict) or set(value) != {"replicas"}:
        raise ValueError("only deploy.replicas can be honoured")
    put(("replicas",), int(value["replicas"]), ("deploy", "replicas"))


_READERS: dict[str, Reader] = {
    "image": _text_as("image", "image"),
    "build": _build,
    "command": _command("command"),
    "entrypoint": _command("entrypoint"),
    "environment": _environment,
    "env_file": _env_file,
    "ports": _ports,
    "volumes": _volumes,
    "healthcheck": _healthcheck,
    "restart": _restart,
    "stop_signal": _stop_signal,
    "stop_grace_period": _stop_grace,
    "user": _text_as("user", "user"),
    "working_dir": _text_as("working_dir", "workdir"),
    "deploy": _deploy,
}
