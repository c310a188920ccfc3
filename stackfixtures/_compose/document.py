"""A whole compose file -> profile services: the top-level keys, `.env` and interpolation,
`profiles` (active ones from COMPOSE_PROFILES, as Compose), names, and `depends_on` with its
conditions, which concern two services at once:

- `service_started`: an edge; the dependent starts once the dependency is ready, which for a
  container with a healthcheck means healthy (never earlier than Compose, possibly later);
- `service_healthy`: an edge, and a dependency with no `healthcheck` of its own gets the
  image's (`healthcheck = "image"`, what Compose relies on); one whose check is disabled is a
  problem;
- `service_completed_successfully`: an edge, and the dependency becomes a task (`task = true`):
  dependents start once it exited 0.
`restart: true` is a `restart` edge (the dependent restarts with it), else `ignore` (Compose
leaves a dependent alone when its dependency restarts)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._problem import Problem
from .interpolate import DotenvProblem, Recording, dotenv, interpolate_tree
from .service import Mapped, Places, map_service
from .tree import Path as TreePath
from .tree import Tree, parse

TOP_IGNORED = frozenset({"version", "name"})
"""`version` is obsolete (Compose ignores it); `name` is Compose's project name, which the
stack's own name replaces."""
_CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class Compose:
    """What a compose file gives a profile: its services' tables, where each of their keys
    came from (profile key path -> offset in the file), and what it could not honour."""

    file: str
    text: str
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    offsets: dict[tuple[str | int, ...], int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    """The variables (and env_file entries: `NAME (file)`) whose values its services hold."""


def profile_name(name: str) -> str:
    """A Compose service's name as a profile's (a Python identifier: `my-api` -> `my_api`)."""
    out = _NOT_A_NAME.sub("_", name)
    return f"_{out}" if out[:1].isdigit() else out


def variables(
    compose_dir: Path, environ: Mapping[str, str], problems: list[Problem]
) -> dict[str, str]:
    """The variables interpolation reads: the environment over the project's `.env` (the
    lines of which Compose refuses go to `problems`)."""
    path = compose_dir / ".env"
    if not path.is_file():
        return dict(environ)
    found: list[DotenvProblem] = []
    values = dotenv(path.read_text(), environ, found)
    problems += [Problem(str(path), name, why, line, 1) for line, name, why in found]
    return {**values, **environ}


def read(file: Path, text: str, profile_dir: Path | None, environ: Mapping[str, str]) -> Compose:
    """`file` (its `text`) as profile services whose relative paths are written for a profile
    in `profile_dir` (None: absolute); every problem collected, none raised."""
    out = Compose(str(file), text)
    tree, out.problems = parse(str(file), text)
    if out.problems or tree.data is None:
        if not out.problems:
            out.problems.append(tree.problem((), "an empty compose file (no services)"))
        return out
    if not isinstance(tree.data, dict) or not isinstance(tree.data.get("services"), dict):
        out.problems.append(tree.problem((), "a compose file needs a `services:` table"))
        return out
    env = Recording(variables(file.parent, environ, out.problems))
    errors: list[tuple[TreePath, str]] = []
    data = interpolate_tree(tree.data, env, errors)
    out.problems += [tree.problem(at, message) for at, message in errors]
    _top_level(tree, data, out)
    active = {p.strip() for p in env.get("COMPOSE_PROFILES", "").split(",") if p.strip()}
    places = Places(file.parent, profile_dir, env)
    mapped: dict[str, Mapped] = {}
    names: dict[str, str] = {}
    for name, svc in data["services"].items():
        if not isinstance(svc, dict):
            out.problems.append(tree.problem(("services", name), "expected a table"))
            continue
        wanted = svc.get("profiles") or []
        if not isinstance(wanted, list):
            out.problems.append(tree.problem(("services", name, "profiles"), "expected a list"))
            wanted = []
        if wanted and not ("*" in active or active & {str(p) for p in wanted}):
            continue
        new = profile_name(name)
        if new in names.values():
            out.problems.append(
                tree.problem(("services", name), f"its profile name {new!r} is taken")
            )
            continue
        names[name] = new
        mapped[name] = map_service(name, svc, places)
    for name, svc in data["services"].items():
        if name in mapped:
            _depends(tree, name, svc.get("depends_on"), mapped, names, out)
    for name, m in mapped.items():
        out.problems += [tree.problem(at, message) for at, message in m.problems]
        out.problems += m.elsewhere
        out.services[names[name]] = m.body
        for key, source in m.sources.items():
            out.offsets[("services", names[name], *key)] = tree.at.get(source, tree.at[()])
        out.offsets[("services", names[name])] = tree.at[("services", name)]
    held = {name for m in mapped.values() for name in m.held}
    out.variables = sorted(env.read - {"COMPOSE_PROFILES"} | held)
    return out


def _top_level(tree: Tree, data: dict[str, Any], out: Compose) -> None:
    for key, value in data.items():
        if key in ("services", *TOP_IGNORED) or key.startswith("x-"):
            continue
        if key != "volumes" or not isinstance(value, dict):
            out.problems.append(
                tree.problem(
                    (key,), "cannot be honoured (a stack has one network, services, named volumes)"
                )
            )
            continue
        for volume, spec in value.items():
            if spec is not None and not isinstance(spec, dict):
                out.problems.append(tree.problem(("volumes", volume), "expected a table"))
                continue
            extra = sorted(k for k in (spec or {}) if not str(k).startswith("x-"))
            if extra:
                what = ", ".join(extra)
                out.problems.append(
                    tree.problem(
                        ("volumes", volume, extra[0]),
                        f"cannot honour {what} of a volume (it is a directory in the state dir)",
                    )
                )


def _depends(
    tree: Tree,
    name: str,
    value: Any,
    mapped: dict[str, Mapped],
    names: dict[str, str],
    out: Compose,
) -> None:
    if value is None:
        return
    at: TreePath = ("services", name, "depends_on")
    entries = {str(d): {} for d in value} if isinstance(value, list) else value
    if not isinstance(entries, dict):
        out.problems.append(tree.problem(at, "expected a list or a table"))
        return
    edges: dict[str, str] = {}
    me = mapped[name]
    for dep, spec in entries.items():
        spec = spec or {}
        where = (*at, dep)
        if not isinstance(spec, dict):
            out.problems.append(tree.problem(where, "expected a table (condition, restart)"))
            continue
        extra = sorted(set(spec) - {"condition", "restart", "required"})
        condition = spec.get("condition", "service_started")
        if extra or condition not in _CONDITIONS:
            what = ", ".join(extra) or f"condition {condition!r}"
            out.problems.append(
                tree.problem(where, f"cannot honour {what} (conditions: {', '.join(_CONDITIONS)})")
            )
            continue
        if spec.get("required", True) is False:
            out.problems.append(
                tree.problem(
                    (*where, "required"),
                    "an optional dependency cannot be honoured: "
                    "every dependency of a stack is started",
                )
            )
        target = mapped.get(dep)
        if condition == "service_healthy" and target is not None:
            if target.health_disabled:
                out.problems.append(tree.problem(where, f"{dep} has its healthcheck disabled"))
            elif "healthcheck" not in target.body:  # Compose relies on the image's own
                target.body["healthcheck"] = "image"
                target.sources[("healthcheck",)] = where
        if condition == "service_completed_successfully" and target is not None:
            target.body["task"] = True
            target.body.pop("restart", None)
        edges[names.get(dep, profile_name(dep))] = "restart" if spec.get("restart") else "ignore"
    me.body["depends_on"] = edges
    me.sources[("depends_on",)] = at
