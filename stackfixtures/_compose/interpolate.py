"""Compose's variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
`${VAR:?error}`, `${VAR?error}`, `${VAR:+other}`, `${VAR+other}`, `$$` for a `$`; values from
the environment over the project's `.env`. What it writes is a profile's text, where `${` starts
a template: a literal `${` comes out as `$${`, and `${service.attr}` (a dot, which no Compose
variable has) is left for the profile's templates (a compose service wired to a profile's)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TEMPLATE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\.[A-Za-z_][A-Za-z0-9_]*")
_OPS = (":-", "-", ":?", "?", ":+", "+")


class Recording(Mapping[str, str]):
    """Variables that remember which of them were read (and set): what an import writes."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = variables
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        value = self.variables[key]
        self.read.add(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)


class Unset(ValueError):
    """`${VAR:?message}` of a variable that is not set: the message."""


DotenvProblem = tuple[int, str, str]
"""A line of a dotenv file Compose refuses: (its number from 1, its name, why)."""


def dotenv(
    text: str, env: Mapping[str, str], problems: list[DotenvProblem] | None = None
) -> dict[str, str]:
    """`KEY=VALUE` lines (an `export ` prefix, `#` comments, single quotes literal, double
    quotes with \\n escapes), as Compose reads `.env` and `env_file`: `KEY` alone takes its
    value from `env` (left out where it is not set there); the lines Compose refuses go to
    `problems`."""
    out: dict[str, str] = {}
    said = problems if problems is not None else []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not key:
            said.append((number, "", "a line without a name (NAME=value)"))
            continue
        if any(c.isspace() for c in key):
            said.append((number, key, "a name cannot hold a space"))
            continue
        if not eq:
            if key in env:
                out[key] = env[key]
            continue
        value = value.strip()
        if value[:1] in ("'", '"') and not (value.endswith(value[0]) and len(value) > 1):
            said.append((number, key, "an unterminated quoted value"))
            continue
        if value[:1] in ("'", '"'):
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            value = re.sub(r"\s+#.*$", "", value)
        out[key] = value
    return out


def _closing(text: str, start: int) -> int:
    """The index of the `}` that closes the `${` whose body starts at `start`, or -1."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`text` with Compose's variables replaced (Unset for `:?` of an unset one; ValueError for
    a malformed `${`)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        if text.startswith("$$", i):
            out.append("$$" if text.startswith("{", i + 2) else "$")
            i += 2
            continue
        if text.startswith("${", i):
            end = _closing(text, i + 2)
            if end < 0:
                raise ValueError(f"unclosed '${{' in {text!r}")
            out.append(_braced(text[i + 2 : end], env))
            i = end + 1
            continue
        name = _NAME.match(text, i + 1)
        if name is None:
            out.append("$")
            i += 1
            continue
        out.append(_escaped(env.get(name.group(0), "")))
        i = name.end()
    return "".join(out)


def _escaped(value: str) -> str:
    return value.replace("${", "$${")


def _braced(body: str, env: Mapping[str, str]) -> str:
    if _TEMPLATE.fullmatch(body):  # a profile template: ${db.dsn}; `my-db` is `my_db` there
        service, _, attr = body.partition(".")
        return "${" + service.replace("-", "_") + "." + attr + "}"
    name = _NAME.match(body)
    if name is None:
        raise ValueError(f"'${{{body}}}' is not a variable")
    var, rest = name.group(0), body[name.end() :]
    if not rest:
        return _escaped(env.get(var, ""))
    op = next((o for o in _OPS if rest.startswith(o)), None)
    if op is None:
        raise ValueError(f"'${{{body}}}' is not a variable")
    arg = rest[len(op) :]
    value = env.get(var)
    present = value is not None and (value != "" or ":" not in op)
    if op.endswith("-"):
        return _escaped(value) if present and value is not None else interpolate(arg, env)
    if op.endswith("?"):
        if not present or value is None:
            raise Unset(f"{var}: {arg or 'not set'}")
        return _escaped(value)
    return interpolate(arg, env) if present else ""


def interpolate_tree(
    data: Any,
    env: Mapping[str, str],
    errors: list[tuple[tuple[Any, ...], str]],
    at: tuple[Any, ...] = (),
) -> Any:
    """Every string of `data` interpolated; each string that cannot be is noted in `errors`
    (its path and why) and left as written."""
    if isinstance(data, dict):
        return {k: interpolate_tree(v, env, errors, (*at, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate_tree(v, env, errors, (*at, i)) for i, v in enumerate(data)]
    if isinstance(data, str):
        try:
            return interpolate(data, env)
        except ValueError as e:
            errors.append((at, str(e)))
            return data.replace("${", "$${")  # reported once, not again as a bad template
    return data
