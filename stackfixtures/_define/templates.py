"""`${...}` templates: `${port}` and other own values, `${db.dsn}` from a dependency's handle."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_\-]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\}")
"""`${name}` or `${name.attr}`; `$${` escapes a literal `${`."""

SHELL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""What a shell can `export`: the names of `[stack.env]`, which `stack env` prints."""

OWN_KEYS = frozenset({"port", "host", "state_dir", "root", "name", "data_dir"})
"""Values a service's own template may use without a dependency: `${port}`, `${state_dir}`, ..."""


def references(text: str) -> list[tuple[str, str | None]]:
    """Every `(name, attr)` a template refers to, e.g. `[("db", "port"), ("port", None)]`."""
    return [(m.group(1), m.group(2)) for m in PATTERN.finditer(text.replace("$${", ""))]


def malformed(text: str) -> list[str]:
    """Every `${` in `text` that starts no valid reference (an unclosed `${db.dsn`, an empty
    `${}`), as the fragment written, so validation can name it."""
    plain = text.replace("$${", "\0\0\0")
    return [
        m.group(0)
        for m in re.finditer(r"\$\{[^}\s$]{0,40}\}?", plain)
        if not PATTERN.match(plain, m.start())
    ]


def render(
    text: str,
    own: Callable[[str], Any],
    handles: Mapping[str, Any],
) -> str:
    """Fill a template: `own(key)` for `${port}`-style keys, handle attributes for `${svc.attr}`."""

    def sub(m: re.Match[str]) -> str:
        name, attr = m.group(1), m.group(2)
        if attr is None:
            return str(own(name))
        handle = handles[name]
        try:
            return str(getattr(handle, attr))
        except AttributeError:
            have = ", ".join(sorted(vars(handle))) if hasattr(handle, "__dict__") else "?"
            raise KeyError(
                f"${{{name}.{attr}}}: handle of {name!r} has no {attr!r} ({have})"
            ) from None

    parts = text.split("$${")
    return "${".join(PATTERN.sub(sub, p) for p in parts)
