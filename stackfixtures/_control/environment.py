"""The endpoint environment of a running stack: what `stack exec` gives its command and
`stack env` prints. Per service `<NAME>_URL`, `<NAME>_HOST`, `<NAME>_PORT`; the variables each
kind's clients read by convention (DATABASE_URL, PGHOST, REDIS_URL, NATS_URL, ...) when exactly
one service of that kind runs (an external one counting as its URL's kind), unless the profile
switches them off (`[stack] conventional_env = false`); and the profile's own names
(`[stack.env]`). Names in `[stack] unset_env` are neither given nor inherited."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from .._define import templates
from .._define.templates import SHELL_NAME

ATTACH_ENV = "STACKFIXTURES_ATTACH"
"""Set by `stack exec` for its command: the state dir of the stack it runs. A pytest session of
the same project and profile uses that stack's services instead of starting its own (which
would clash with it on pinned ports) and leaves it running; without it, the session looks for
its profile's stack in the profile's state dir (pytest_plugin/attach.py)."""


def prefix(name: str) -> str:
    """`api-gateway` -> `API_GATEWAY` (replicas: `web.2` -> `WEB_2`)."""
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def endpoint_env(
    status: Mapping[str, Any], only: list[str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The variables for the services in `status` (a StackControl's status) that are up, and
    notes on what was left out and why."""
    env: dict[str, str] = {}
    notes: list[str] = []
    handles: dict[str, SimpleNamespace] = {}  # what `${api.url}` reads: no Handle needed
    by_kind: dict[str, list[str]] = {}
    conventional: dict[str, dict[str, str]] = {}  # the kind's variables, from the launcher
    for row in status["services"]:
        name, attrs = row["name"], row.get("handle") or {}
        if only is not None and name not in only and name.split(".")[0] not in only:
            continue
        if not attrs:
            continue
        handles[name] = SimpleNamespace(**attrs)
        key = prefix(name)
        url = attrs.get("url") or attrs.get("dsn")  # `endpoint` is for people: not a URL
        for suffix, value in (
            ("URL", url),
            ("HOST", attrs.get("host")),
            ("PORT", attrs.get("port")),
        ):
            if value not in (None, ""):
                env[f"{key}_{suffix}"] = str(value)
        if row.get("client_env") and "." not in name:
            by_kind.setdefault(row.get("client_kind") or row["kind"], []).append(name)
            conventional[name] = row["client_env"]
    if status["stack"].get("conventional_env") is False:
        by_kind.clear()  # the profile switched them off
    for kind_name, names in sorted(by_kind.items()):
        if len(names) > 1:
            notes.append(
                f"{len(names)} {kind_name} services ({', '.join(names)}): the conventional "
                f"variables of {kind_name} clients are left out; use {prefix(names[0])}_URL ..."
            )
            continue
        env.update(conventional[names[0]])
    env.update(_profile_env(status["stack"].get("env") or {}, handles, notes))
    for key in unset(status):
        env.pop(key, None)
    return env, notes


def unset(status: Mapping[str, Any]) -> list[str]:
    """`[stack] unset_env` of the running stack: names its commands must not have at all."""
    return list(status["stack"].get("unset_env") or [])


def command_env(status: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a command run against the stack: ours with `env` over it, without
    the names of `[stack] unset_env` (e.g. a PGHOST of the caller's shell)."""
    gone = set(unset(status))
    return {k: v for k, v in {**os.environ, **env}.items() if k not in gone}


def _profile_env(
    wanted: Mapping[str, str], handles: Mapping[str, SimpleNamespace], notes: list[str]
) -> dict[str, str]:
    """`[stack.env]`: names of the profile's own, e.g. `NATS_URLS = "${nats.url}"`."""
    out = {}
    for key, text in wanted.items():
        try:
            out[key] = templates.render(str(text), _no_own, handles)
        except KeyError as e:
            notes.append(f"[stack.env] {key}: {str(e).strip(chr(39))} (not running?)")
    return out


def _no_own(key: str) -> str:
    raise KeyError(f"${{{key}}} has no meaning in [stack.env]; use ${{service.attribute}}")


FORMATS = {
    "sh": 'export lines for `eval "$(stack env)"`',
    "dotenv": "a .env file for `set -a; . ./.env` and python-dotenv (values quoted)",
    "docker": "a file for `docker run --env-file` (values as they are: docker unquotes nothing)",
    "json": "one JSON object",
}
"""What `stack env --format` can write, and what each is for."""

_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./:@,+%=")
"""Characters a dotenv value may hold unquoted: neither sh nor python-dotenv treats them
specially (so a URL stays readable, and docker's --env-file reads such a line alike)."""


def render(
    env: Mapping[str, str], fmt: str, gone: list[str] | None = None
) -> tuple[str, list[str]]:
    """`env` in one of FORMATS, and notes on what was left out or cannot be read back exactly.
    A name a shell cannot set is left out of every format but json: a `.env` line is run by
    `. ./.env`, and must never be more than an assignment. `gone` (`[stack] unset_env`) are
    `unset` lines for sh, as exec leaves them out of its command's environment."""
    lines: list[str] = []
    notes: list[str] = []
    if gone and fmt != "sh":
        notes.append(
            f"[stack] unset_env ({', '.join(gone)}): {fmt} cannot unset a name; unset them "
            "yourself (--format sh writes `unset` lines)"
        )
    if fmt == "json":
        return json.dumps(dict(env), indent=2), notes
    for key in gone or []:
        if fmt == "sh" and SHELL_NAME.match(key):
            lines.append(f"unset {key}\n")
    for key, value in sorted(env.items()):
        if not SHELL_NAME.match(key):
            notes.append(f"{key!r}: left out: not a variable name a shell can set")
        elif fmt == "sh":
            lines.append(f"export {key}={shlex.quote(value)}\n")
        elif fmt == "docker":
            if "\n" in value or "\r" in value:
                notes.append(
                    f"{key}: left out: docker --env-file cannot hold a value with a line break"
                )
            else:
                lines.append(f"{key}={value}\n")
        else:
            text, note = _dotenv(value)
            lines.append(f"{key}={text}\n")
            notes += [f"{key}: {note}"] if note else []
            if "${" in value:
                notes.append(
                    f"{key}: its value holds `${{`, which python-dotenv expands unless read "
                    "with interpolate=False"
                )
    return "".join(lines), notes


def _dotenv(value: str) -> tuple[str, str | None]:
    """`value` written so that sh (`. ./.env`) reads it back exactly and runs nothing, and
    python-dotenv reads the same; the note when python-dotenv cannot (sh still can).

    sh and python-dotenv agree on: single quotes holding no `'` or backslash (both take
    everything literally); double quotes holding no `$` or backtick, with `\\` and `\"`
    escaped (both unescape just those). A value with both kinds of character has no form
    both read alike: it is written for sh, `'\''` closing and reopening the quotes."""
    if value and all(c in _PLAIN for c in value):
        return value, None
    if "'" not in value and "\\" not in value:
        return f"'{value}'", None
    if "$" not in value and "`" not in value:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"', None
    return shlex.quote(value), (
        "its value holds both a quote or backslash and `$` or a backtick; python-dotenv "
        "cannot read it back exactly (sh can); use --format json or sh for it"
    )
