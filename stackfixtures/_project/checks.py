"""Checks made before anything starts, each reported in the file that holds the mistake:
dependencies (a profile's `depends_on`, or an @service's parameters, where the function is
defined), the graph (cycles, scopes), and `${...}` templates against the dependencies' kinds,
or against what replaces a dependency (`--replace`, a pytest override).

Python services outside the selected closure are not held against the profile: a broken one
is set aside with its reason, and only an attempt to start it reports it.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import kinds
from .._config.choose import profile_names
from .._config.load import Profile, name_too_long
from .._config.positions import KeyPath
from .._config.read import raw_profile
from .._config.suggest import closest, did_you_mean
from .._define import templates
from .._define.graph import Graph, walk
from .._define.service import ServiceDefinition, attributes
from ..errors import DefinitionError, DependencyCycle, Problem, ScopeMismatch
from .apply_profile import stub

PICK_PROFILE = (
    "pick a profile: `-p NAME` (or STACK_PROFILE) for a stack command, or for pytest "
    "`--stack-profile NAME` or the ini option `stack_profile`"
)


def where_defined(d: ServiceDefinition, root: Path, word: str | None = None) -> tuple[str, int]:
    """The file (relative to `root` when under it) and line of an @service: of the line naming
    `word` in its signature or decorator when given, else of its `def`."""
    try:
        file = Path(inspect.getsourcefile(d.function) or inspect.getfile(d.function))
        lines, start = inspect.getsourcelines(d.function)
    except (OSError, TypeError):
        return d.source or d.name, 0
    with contextlib.suppress(ValueError):
        file = file.resolve().relative_to(root)
    defs = [i for i, t in enumerate(lines) if re.match(r"\s*(async\s+)?def\s", t)]
    line = start + (defs[0] if defs else 0)
    if word is not None:
        pattern = re.compile(rf"\b{re.escape(word)}\b")
        body = defs[0] if defs else 0
        for i, text in enumerate(lines[: body + 1] + _signature(lines[body:])):
            if pattern.search(text.split("#")[0]):
                line = start + i
                break
    return str(file), line


def _signature(lines: list[str]) -> list[str]:
    """The lines of a `def` up to the one that ends its signature (after the first)."""
    for i, text in enumerate(lines):
        if text.rstrip().endswith(":"):
            return lines[1 : i + 1]
    return []


def code_problem(
    d: ServiceDefinition, root: Path, message: str, word: str | None = None
) -> Problem:
    """A problem of an @service, placed where it is defined."""
    file, line = where_defined(d, root, word)
    return Problem(file, "", message, line, 0, service=d.name)


CODE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
"""What an @service's name may hold: it names files and an environment prefix, and a `.` would
read as a replica's number or a template's attribute."""


def names(
    defs: Mapping[str, ServiceDefinition], profile: Profile | None, root: Path
) -> list[Problem]:
    """The @service names (a profile's are checked with it) that cannot name a service."""
    declared = profile.spec.services if profile else {}
    problems = []
    for name, d in defs.items():
        if name in declared:
            continue
        problem = name_too_long(name)
        if problem is None and not CODE_NAME.match(name):
            problem = (
                f"service name {name!r}: letters, digits, '_' and '-' only, starting with a "
                "letter, digit or '_'"
            )
        if problem is not None:
            problems.append(code_problem(d, root, problem))
    return problems


def _elsewhere(root: Path, name: str, current: Profile | None) -> list[str]:
    """The other profiles of the project that define a service called `name`."""
    found = []
    for other in profile_names(root):
        path = root / "profiles" / f"{other}.toml"
        if current is not None and path.resolve() == current.path:
            continue
        with contextlib.suppress(DefinitionError, OSError):
            services = raw_profile(path.resolve(), root).get("services")
            if isinstance(services, dict) and name in services:
                found.append(path.stem)
    return found


def nothing_to_run(root: Path, profile: Profile | None) -> str:
    """Why a stack has no service, and what to do: usually, name one of the profiles."""
    if profile is not None:
        return f"{profile.path}: defines no services (add a [services.NAME] table)"
    names = profile_names(root)
    text = f"no services: no profile named, and {root / 'conftest.py'} defines none"
    if names:
        return f"{text}; {PICK_PROFILE} (profiles here: {', '.join(names)})"
    return f"{text}; write profiles/NAME.toml or @sf.service fixtures in conftest.py"


def _undefined(
    dep: str, known: Iterable[str], root: Path, profile: Profile | None, noun: str
) -> str:
    """`names no service`, with a suggestion, or what is defined and how to pick a profile."""
    near = closest(dep, known)
    if near:
        return f"{noun} {dep!r} names no service; did you mean {near!r}?"
    text = f"{noun} {dep!r} names no service (defined: {', '.join(sorted(known)) or 'none'})"
    others = _elsewhere(root, dep, profile)
    if others:
        text += f"; profile {', '.join(others)} defines it"
    if profile is None or others:
        text += f"; {PICK_PROFILE}"
    if profile is None:
        names = profile_names(root)
        text += f" (profiles here: {', '.join(names)})" if names else ""
    return text


def dependencies(
    defs: dict[str, ServiceDefinition],
    profile: Profile | None,
    root: Path,
    selected: list[str],
) -> tuple[list[Problem], dict[str, str]]:
    """Every dependency that names no service, in the file that names it. Returns the problems
    of the code, and the Python services set aside (outside the selected closure) with why."""
    declared = profile.spec.services if profile else {}
    invalid = profile.invalid if profile else set()
    wanted, _ = walk(  # what nothing defines is reported below, not walked
        [n for n in selected if n in defs], lambda n: [d for d in defs[n].dependencies if d in defs]
    )
    problems: list[Problem] = []
    aside: dict[str, str] = {}
    for name, d in defs.items():
        if name in invalid:
            continue
        spec = declared.get(name)
        for dep in [x for x in d.dependencies if x not in defs]:
            params = [p for p in d.params if d.provider(p) == dep]
            if spec is not None and profile is not None and dep in spec.dependency_names:
                deps = spec.depends_on
                key: KeyPath = ("services", name, "depends_on")
                key += (list(deps).index(dep) if isinstance(deps, list) else dep,)
                defined = ", ".join(sorted(defs))
                profile.add(
                    key,
                    f"service {name!r} depends on {dep!r}, which is not defined "
                    f"(defined: {defined}){did_you_mean(dep, defs)}",
                )
            elif spec is not None and profile is not None and params and params[0] in spec.inject:
                profile.add(
                    ("services", name, "inject", params[0]),
                    f"names {dep!r}, which is not defined{did_you_mean(dep, defs)}",
                )
            elif spec is not None and profile is not None and d.kind in kinds.BUILTIN:
                p = params[0] if params else dep
                profile.add(
                    ("services", name),
                    f"kind {d.kind!r} needs a service {dep!r} (its parameter {p!r}): define "
                    f'one, or pass another with inject = {{ {p} = "NAME" }}',
                )
            else:
                noun = "parameter" if params else "depends_on"
                word = params[0] if params else dep
                others = [n for n in defs if n != name]
                problem = code_problem(d, root, _undefined(dep, others, root, profile, noun), word)
                if spec is None and name not in wanted:
                    aside[name] = str(problem)
                else:
                    problems.append(problem)
    return problems, aside


def set_aside(defs: dict[str, ServiceDefinition], aside: dict[str, str]) -> None:
    """Remove the services set aside, and what depends on them, saying why for each."""
    changed = True
    while changed:
        changed = False
        for name, d in list(defs.items()):
            broken = [x for x in d.dependencies if x in aside]
            if name not in aside and broken:
                aside[name] = f"it depends on {broken[0]!r}: {aside[broken[0]]}"
                changed = True
    for name in aside:
        defs.pop(name, None)


def graph(
    defs: dict[str, ServiceDefinition], profile: Profile | None, root: Path
) -> tuple[Graph | None, list[Problem]]:
    """The checked Graph, or the cycle or scope mismatch, where it is written."""
    usable = {n: d if all(x in defs for x in d.dependencies) else stub(n) for n, d in defs.items()}
    try:
        return Graph(usable), []
    except (DependencyCycle, ScopeMismatch) as e:
        name = e.service if isinstance(e, ScopeMismatch) else e.cycle[0]
        field = "scope" if isinstance(e, ScopeMismatch) else "depends_on"
        if profile is not None and name in profile.spec.services:
            profile.add(("services", name, field), str(e))
            return None, []
        return None, [code_problem(defs[name], root, str(e))]


def _handle_fields(d: ServiceDefinition) -> tuple[str, ...] | None:
    """The attributes the handle of `d` will have; None when that cannot be known."""
    if d.kind is None or d.kind == "invalid":
        return None
    try:
        kind = kinds.get(d.kind)
        return (kind.handle_fields(d) if kind is not None else ()) or None
    except Exception:  # an unreadable URL or kind is reported by its own check
        return None


def _strings(value: Any, key: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Every string in `value` (a profile entry's keys, nested), with the key that holds it."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*key, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*key, i))
    elif isinstance(value, str):
        yield key, value


def _entry_strings(profile: Profile, name: str) -> Iterator[tuple[KeyPath, str]]:
    """The strings of a profile entry that may hold templates: its env and its kind's keys."""
    spec = profile.spec.services[name]
    base: KeyPath = ("services", name)
    yield from _strings(dict(spec.env), (*base, "env"))
    yield from _strings({k: v for k, v in spec.extras.items() if k != "external"}, base)


def _template(
    profile: Profile, name: str, defs: Mapping[str, ServiceDefinition], value: str, key: KeyPath
) -> None:
    d = defs[name]
    for fragment in templates.malformed(value):
        profile.add(
            key,
            f"{fragment!r} is not a template: write ${{name}} or ${{service.attribute}} "
            "(or $${ for a literal ${)",
        )
    for ref, attr in templates.references(value):
        if attr is None:
            if ref not in templates.OWN_KEYS:
                own = ", ".join(f"${{{k}}}" for k in sorted(templates.OWN_KEYS))
                hint = did_you_mean(ref, templates.OWN_KEYS)
                profile.add(
                    key,
                    f"${{{ref}}} is not a known value{hint} (use one of {own} or "
                    "${service.attribute})",
                )
            continue
        if ref not in d.dependencies:
            near = closest(ref, d.dependencies)
            hint = f"; did you mean {near!r}?" if near else f" (add {ref!r} to depends_on)"
            what = "" if ref in defs else ", and no service has that name"
            profile.add(
                key,
                f"${{{ref}.{attr}}} refers to {ref!r}, which is not a dependency of "
                f"{name!r}{what}{hint}",
            )
            continue
        if ref not in defs:  # an undefined dependency: reported as such already
            continue
        fields = _handle_fields(defs[ref])
        if fields is not None and attr not in fields:
            profile.add(
                key,
                f"${{{ref}.{attr}}}: the handle of {ref!r} ({defs[ref].kind}) has no "
                f"{attr!r}{did_you_mean(attr, fields)} (it has: {', '.join(fields)})",
            )


def _misspelt_depends_on(profile: Profile, name: str) -> bool:
    """Whether the entry's `depends_on` is written wrong (its templates' references would only
    repeat that mistake)."""
    prefix = f"services.{name}."
    return any(p.key.startswith(prefix) and "'depends_on'" in p.message for p in profile.problems)


def all_templates(profile: Profile, defs: Mapping[str, ServiceDefinition]) -> None:
    """The templates of every valid profile entry, and of `[stack.env]`."""
    for name in profile.spec.services:
        if name in profile.invalid or name not in defs or _misspelt_depends_on(profile, name):
            continue
        for at, text in _entry_strings(profile, name):
            _template(profile, name, defs, text, at)
    for key, text in profile.spec.stack.env.items():
        stack_template(profile, ("stack", "env", key), text, defs)


def stack_template(
    profile: Profile, where: KeyPath, text: str, defs: Mapping[str, ServiceDefinition]
) -> None:
    """A template of the `[stack]` table (no service of its own): `${service.attribute}` only,
    naming any service of the stack, an attribute its handle has."""
    for ref, attr in templates.references(text):
        if attr is None:
            profile.add(where, f"${{{ref}}} has no meaning here; use ${{service.attribute}}")
        elif ref not in defs:
            profile.add(where, f"${{{ref}.{attr}}}: no service {ref!r}{did_you_mean(ref, defs)}")
        elif (fields := _handle_fields(defs[ref])) is not None and attr not in fields:
            profile.add(
                where,
                f"${{{ref}.{attr}}}: the handle of {ref!r} has no {attr!r}"
                f"{did_you_mean(attr, fields)} (it has: {', '.join(fields)})",
            )


def _public(value: Any) -> list[str]:
    """The attribute names a replacement offers to templates."""
    if hasattr(value, "__dict__"):
        return sorted(attributes(value))
    return sorted(a for a in dir(value) if not a.startswith("_"))


def replaced_templates(
    profile: Profile | None,
    defs: Mapping[str, ServiceDefinition],
    names: Iterable[str],
    replaced: Mapping[str, Any],
    what: Mapping[str, str],
    stack_env: bool = False,
) -> list[Problem]:
    """The templates of `names` (and of `[stack.env]` with `stack_env`) against the objects that
    replace some of their dependencies: each `${service.attribute}` whose replacement lacks the
    attribute, at the key that writes it. `what` says what replaced each service. A Python
    service's code is not read: it meets a missing attribute when it starts, with its name."""
    if profile is None:
        return []
    problems: list[Problem] = []

    def check(where: KeyPath, text: str, deps: Iterable[str]) -> None:
        for ref, attr in templates.references(text):
            if attr is None or ref not in replaced or ref not in deps:
                continue
            if not hasattr(replaced[ref], attr):
                have = _public(replaced[ref])
                problems.append(
                    profile.problem(
                        where,
                        f"${{{ref}.{attr}}}: {what[ref]} has no {attr!r}"
                        f"{did_you_mean(attr, have)} (it has: {', '.join(have) or 'nothing'})",
                    )
                )

    for name in names:
        if name in profile.spec.services and name in defs:
            for where, text in _entry_strings(profile, name):
                check(where, text, defs[name].dependencies)
    if stack_env:
        for key, text in profile.spec.stack.env.items():
            check(("stack", "env", key), text, replaced)
    return problems
