"""Helpers of the compose-include tests: write a compose file (checked against the Compose
specification's schema first, so every file the tests include is one Compose accepts) and a
profile that includes it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from stackfixtures._config.load import Profile, validate_profile

from .conftest import write_project

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = (
    next(
        (p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()),
        ROOT.parent / "shared",
    )
    / "data"
    / "compose-spec.json"
)
"""shared/ beside the checkout (or beside the worktrees' directory)."""


@pytest.fixture(scope="session")
def compose_schema() -> dict[str, Any]:
    if not SCHEMA.exists():
        pytest.skip(f"the Compose schema is read from {SCHEMA} (shared/ beside the checkout)")
    return json.loads(SCHEMA.read_text())  # type: ignore[no-any-return]


def write_compose(
    path: Path, text: str, schema: dict[str, Any] | None = None, check: bool = True
) -> Path:
    """`text` (dedented) at `path`; validated by the Compose schema when `check`."""
    body = textwrap.dedent(text)
    if check and schema is not None:
        jsonschema.Draft7Validator(schema).validate(yaml.safe_load(body))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def including(root: Path, compose: str = "compose.yaml", rest: str = "") -> Path:
    """A project at `root` whose `dev` profile includes `compose` (relative to profiles/)."""
    return write_project(root, f'[stack]\ninclude = ["{compose}"]\n{rest}')


def services(root: Path) -> dict[str, dict[str, Any]]:
    """The `dev` profile's services as read (compose ones included), problems raised."""
    loaded: Profile = validate_profile("dev", root)
    return {name: loaded.raw["services"][name] for name in loaded.spec.services}


BOMB = "services: {a: {image: x}}\nx-0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
BOMB += "".join(f"x-{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 9))
"""10 aliases of the list before, 8 deep: 10^9 values in a few lines (as text: a value that
big would hang whatever prints it)."""
