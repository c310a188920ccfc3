"""pydantic's validation errors, said for people: the key path as written in the file, what was
expected and what was found, and "did you mean" for an unknown key or choice.

pydantic reports a value that fits no member of a union once per member (`tcp.str`,
`tcp.int`); these become one error, or the error of the member the value was meant for.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from .positions import KeyPath
from .suggest import did_you_mean

TYPES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}
"""pydantic error types that mean "wrong type", and the type that was expected."""

RANGES = {
    "greater_than": "greater than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "at most {le}",
}


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation allows (through Optional, unions, Annotated)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _models(arg)]
    if origin is Annotated:
        return _models(get_args(annotation)[0])
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation of `part` inside a value of `annotation`, or None."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _step(arg, part)
            if found is not None:
                return found
        return None
    if origin is Annotated:
        return _step(get_args(annotation)[0], part)
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        info = annotation.model_fields.get(str(part))
        return info.annotation if info is not None else None
    if origin is dict and isinstance(part, str):
        return get_args(annotation)[1]
    if origin is list and isinstance(part, int):
        return get_args(annotation)[0]
    return None


def known_keys(model: Any, path: KeyPath) -> list[str]:
    """The keys a table at `path` (relative to `model`) may hold."""
    annotation = model
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    return [name for m in _models(annotation) for name in m.model_fields]


def describe(value: Any) -> str:
    """A found value, shortly: `the string 'x'`, `1.5`, `a list`, `a table`, `true`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if not value:
            return "an empty string"
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {text!r}"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _has(container: Any, part: str | int) -> bool:
    """Whether `part` is a key of a table or an index of a list."""
    if isinstance(container, dict):
        return isinstance(part, str) and part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _split(data: Any, loc: Sequence[str | int], kind: str) -> tuple[KeyPath, int | None, str]:
    """The key path an error's `loc` names in `data`; where its first union tag was (the length
    of the path at that point, or None) and that tag. Tags are the parts that name no key."""
    path: list[str | int] = []
    union_at: int | None = None
    tag = ""
    current = data
    for n, part in enumerate(loc):
        last = n == len(loc) - 1
        if _has(current, part):
            path.append(part)
            current = current[part]
        elif last and kind == "missing":
            path.append(part)
        elif union_at is None:
            union_at, tag = len(path), str(part)
    return tuple(path), union_at, tag


def _value_at(data: Any, path: KeyPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _message(err: ErrorDetails, model: Any, path: KeyPath, top: Sequence[str] = ()) -> str:
    kind = err["type"]
    ctx: dict[str, Any] = {
        k: int(v) if isinstance(v, float) and v.is_integer() else v
        for k, v in (err.get("ctx") or {}).items()
    }
    found = describe(err["input"])
    if kind == "extra_forbidden":
        known = known_keys(model, path[:-1]) + (list(top) if len(path) == 1 else [])
        return "unknown key" + did_you_mean(str(path[-1]), known)
    if kind == "missing":
        return "required, but not set"
    if kind in TYPES:
        return f"wrong type (expected {TYPES[kind]}, found {found})"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = re.findall(r"'([^']*)'", expected)
        hint = did_you_mean(str(err["input"]), choices) if isinstance(err["input"], str) else ""
        return f"not one of the choices (expected {expected}, found {found}){hint}"
    if kind in RANGES:
        return f"out of range (expected {RANGES[kind].format(**ctx)}, found {found})"
    if kind in ("too_short", "string_too_short"):
        what = "a non-empty string" if kind == "string_too_short" else "at least one item"
        return f"must not be empty (expected {what}, found {found})"
    return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _is_mismatch(err: ErrorDetails, path: KeyPath, at: KeyPath) -> bool:
    return path == at and err["type"] in (*TYPES, "literal_error")


def explain(
    errors: Sequence[ErrorDetails], data: Any, model: Any, top: Sequence[str] = ()
) -> list[tuple[KeyPath, str]]:
    """(key path, message) for each mistake pydantic found validating `data` with `model`.
    `top`: further keys the top level may hold (suggested for a misspelt one there). A key
    that is required but missing because it was misspelt is reported once, as the typo."""
    plain: list[tuple[ErrorDetails, KeyPath]] = []
    unions: dict[KeyPath, dict[str, list[tuple[ErrorDetails, KeyPath]]]] = {}
    for err in errors:
        path, union_at, tag = _split(data, err["loc"], err["type"])
        if union_at is None:
            plain.append((err, path))
        else:
            unions.setdefault(path[:union_at], {}).setdefault(tag, []).append((err, path))
    out = [(path, _message(err, model, path, top)) for err, path in plain]
    for at, members in unions.items():
        meant = [m for m in members.values() if not all(_is_mismatch(e, p, at) for e, p in m)]
        if meant:
            out += [(path, _message(err, model, path, top)) for err, path in meant[0]]
            continue
        expected = " or ".join(
            dict.fromkeys(_expected(e) for m in members.values() for e, _ in m if _expected(e))
        )
        found = describe(_value_at(data, at))
        out.append((at, f"wrong type (expected {expected}, found {found})"))
    return _merged(_without_echoes(out))


def _without_echoes(found: list[tuple[KeyPath, str]]) -> list[tuple[KeyPath, str]]:
    """Drop "required, but not set" for a key whose misspelling is reported beside it."""
    meant = {
        (*path[:-1], m.group(1))
        for path, message in found
        if (m := re.search(r"did you mean '([^']*)'\?", message)) and message.startswith("unknown")
    }
    return [
        (path, message)
        for path, message in found
        if not (message == "required, but not set" and path in meant)
    ]


def _expected(err: ErrorDetails) -> str:
    if err["type"] in TYPES:
        return TYPES[err["type"]]
    if err["type"] == "literal_error":
        return "one of " + str((err.get("ctx") or {}).get("expected", ""))
    return ""


def _merged(found: list[tuple[KeyPath, str]]) -> list[tuple[KeyPath, str]]:
    """One message per path (in order of first appearance); repeats dropped."""
    out: dict[KeyPath, list[str]] = {}
    for path, message in found:
        if message not in out.setdefault(path, []):
            out[path].append(message)
    return [(path, "; ".join(messages)) for path, messages in out.items()]
