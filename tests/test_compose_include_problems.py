"""Compose in, on files made to hurt the reader (review 24): alias bombs and recursive
anchors, env files with bad lines, and port and build forms reported whole, each a problem at
its file:line (what `stack validate` prints), never a hang or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackfixtures import _project as projects
from stackfixtures._compose.document import read
from stackfixtures.errors import ProfileError

from .compose_include_helpers import BOMB, including, write_compose


def test_an_alias_bomb_is_a_problem_at_its_line_not_a_hang() -> None:
    assert len(BOMB) < 1024
    found = read(Path("/nowhere/compose.yaml"), BOMB, Path("/nowhere"), {})
    [problem] = found.problems  # at the top-level key whose value grew past the bound
    assert problem.file == "/nowhere/compose.yaml" and problem.key.startswith("x-"), problem
    assert problem.line == 2 + int(problem.key[2:]), problem
    assert "more than" in problem.message and "aliases" in problem.message, problem


RECURSIVE = "services:\n  web:\n    image: x\n    labels: &w {again: *w}\n"


def test_a_recursive_anchor_is_a_problem_at_its_line_not_a_traceback(tmp_path: Path) -> None:
    compose = write_compose(tmp_path / "profiles" / "compose.yaml", RECURSIVE, check=False)
    including(tmp_path)
    with pytest.raises(ProfileError) as e:
        projects.load("dev", root=tmp_path)
    assert str(e.value).startswith(f"{compose}:4:"), e.value
    assert "refers to itself" in str(e.value), e.value
