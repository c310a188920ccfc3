"""`stack exec -- CMD` on a running stack uses it as it is: it asks the launcher for the
endpoints and runs CMD, importing neither the project's package (the profile machinery, its
compiled form) nor pydantic, the kinds or the engine beyond what a command for a running stack
needs. Only a stack with per-test templates loads the profile (to see whether one changed).
The command runs in a fresh interpreter against a real stack, and its `sys.modules` is
listed (tests/imports_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import PY, module_stack
from .imports_helpers import HEAVY, run_listing

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PROFILE = """
[services.web]
command = ["sleep", "600"]
"""
ENGINE = frozenset(
    {
        "stackfixtures._engine",
        "stackfixtures._engine.cleanup",
        "stackfixtures._engine.cleanup.lock",
        "stackfixtures._engine.masking",
        "stackfixtures._engine.venv",  # (CMD is looked up in the virtualenvs first)
    }
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("exec_imports")
    with module_stack(root, "I26_EXEC_IMPORTS_STACK", profile=PROFILE):
        yield root


def test_exec_on_a_running_stack_imports_no_project_nor_pydantic(
    root: Path, tmp_path: Path
) -> None:
    said = "import os; print('WEB_URL=' + os.environ['WEB_URL'])"
    ran = run_listing(["exec", "--", PY, "-c", said], root, tmp_path)
    assert ran.code == 0, ran.output
    assert "WEB_URL=http://127.0.0.1:" in ran.output, ran.output  # (the running stack's)
    assert not ran.top() & (HEAVY - {"asyncio"}), sorted(ran.top() & HEAVY)
    assert "psutil" not in ran.top()
    for package in ("_project", "kinds", "_launcher", "_config.load", "_config.schema"):
        assert not ran.ours(package), sorted(ran.ours(package))
    assert ran.ours("_engine") <= ENGINE, sorted(ran.ours("_engine") - ENGINE)


def test_the_template_kind_exec_asks_for_is_the_projects() -> None:
    """_control/templates.py writes the builders' kind out rather than import the project's
    package for it: the two must agree, and name the built-in kind."""
    from stackfixtures import kinds
    from stackfixtures._control import templates as control
    from stackfixtures._project import templates as project

    builder = kinds.get(control.KIND)
    assert control.KIND == project.KIND and builder is not None and builder.name == control.KIND
