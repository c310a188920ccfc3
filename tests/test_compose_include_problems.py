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


ENV_FILE = "A=1\nFROM_HERE\nNOT_SET_HERE\n=nokey\nbad key=2\nQ='unterminated\n"


def test_env_file_lines_are_read_as_compose_reads_them_and_bad_ones_named_at_their_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review #10: `NAME` alone takes its value from the environment (Compose's rule), and
    every line Compose refuses is a problem at the env file's own line; `stack validate` (an
    include) and `stack import` (the reader) report the same problems."""
    monkeypatch.setenv("FROM_HERE", "here")
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    profiles = tmp_path / "profiles"
    compose = write_compose(
        profiles / "compose.yaml", "services:\n  web:\n    image: x\n    env_file: app.env\n"
    )
    (profiles / "app.env").write_text(ENV_FILE)
    env = f"{profiles / 'app.env'}"
    expected = [
        f"{env}:4:1: a line without a name (NAME=value)",
        f"{env}:5:1: bad key: a name cannot hold a space",
        f"{env}:6:1: Q: an unterminated quoted value",
    ]
    found = read(compose, compose.read_text(), profiles, {"FROM_HERE": "here"})
    assert [str(p) for p in found.problems] == expected
    including(tmp_path)
    with pytest.raises(ProfileError) as e:
        projects.load("dev", root=tmp_path)
    assert str(e.value).splitlines() == expected
    (profiles / "app.env").write_text("A=1\nFROM_HERE\nNOT_SET_HERE\n")
    env_of_web = projects.load("dev", root=tmp_path).profile.raw["services"]["web"]["env"]
    assert env_of_web == {"A": "1", "FROM_HERE": "here"}


PORTS_AND_BUILD = """\
services:
  web:
    build: {context: ./missing, dockerfile: Dockerfile}
    ports:
      - "[::]:9003:83"
      - {target: 80x, published: 0, host_ip: 0.0.0.0, protocol: sctp}
"""


def test_every_problem_of_ports_and_build_is_named_by_validate(tmp_path: Path) -> None:
    """Review #11: an IPv6 host address is read as one (no garbled "not one port"), each
    problem of a long-form port is named (not only the first), and a build context that is
    not there is found by `stack validate`, not at start."""
    compose = write_compose(tmp_path / "profiles" / "compose.yaml", PORTS_AND_BUILD, check=False)
    including(tmp_path)
    with pytest.raises(ProfileError) as e:
        projects.load("dev", root=tmp_path)
    c = f"{compose}"
    assert str(e.value).splitlines() == [
        f"{c}:3:13: services.web.build.context: {tmp_path}/profiles/missing: no such directory",
        f"{c}:5:9: services.web.ports[0]: host address [::]: a stack publishes on 127.0.0.1 only",
        f"{c}:6:9: services.web.ports[1]: host address 0.0.0.0: a stack publishes on 127.0.0.1 "
        "only; container port '80x' is not one port (ranges: write each); protocol 'sctp' "
        "(tcp or udp); host port 0 is not one port",
    ]
