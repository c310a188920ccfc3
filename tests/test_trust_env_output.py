"""Issue 21, the dotenv half of item 7: `stack env --format dotenv` (and `sh`) is safe to
`source` and reads back exactly; `docker` is literal; names a shell cannot set are left out."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values

from stackfixtures._control.environment import render

from .cli_helpers import run_stack
from .conftest import write_project
from .test_trust_inputs import WEB

NASTY = {
    "CMD": "a $(touch PWNED) b",
    "TICKS": "`touch PWNED2`",
    "QUOTES": 'it\'s "quoted"',
    "SLASH": "back\\slash \\n \\\\ end\\",
    "LINES": "one\ntwo\n",
    "DOLLAR": "$HOME ${HOME} $ x",
    "BOTH": "it's $(touch PWNED3)",
    "SPACE": " lead and trail ",
    "HASH": "#not a comment",
    "PLAIN": "postgresql://u:p@127.0.0.1:5432/db",
    "EMPTY": "",
}


def _sourced(tmp_path: Path, dotenv: str) -> dict[str, str]:
    """What `set -a; . ./env` in sh gives each variable, read back as JSON."""
    (tmp_path / "env").write_text(dotenv)
    names = " ".join(NASTY)
    script = (
        "set -a; . ./env; exec python3 -c 'import json, os, sys; "
        "print(json.dumps({k: os.environ.get(k) for k in sys.argv[1:]}))' " + names
    )
    out = subprocess.run(
        ["sh", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=10
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


@pytest.mark.slow
def test_dotenv_is_safe_to_source_and_round_trips(tmp_path: Path) -> None:
    text, notes = render(NASTY, "dotenv")
    assert _sourced(tmp_path, text) == NASTY
    assert not list(tmp_path.glob("PWNED*"))
    read = dotenv_values(tmp_path / "env", interpolate=False)
    assert {k: v for k, v in read.items() if k != "BOTH"} == {
        k: v for k, v in NASTY.items() if k != "BOTH"
    }
    assert notes == [
        "BOTH: its value holds both a quote or backslash and `$` or a backtick; python-dotenv "
        "cannot read it back exactly (sh can); use --format json or sh for it",
        "DOLLAR: its value holds `${`, which python-dotenv expands unless read with "
        "interpolate=False",
    ]
    assert render({"PLAIN": NASTY["PLAIN"]}, "dotenv")[0] == f"PLAIN={NASTY['PLAIN']}\n"


@pytest.mark.slow
def test_sh_format_round_trips_too(tmp_path: Path) -> None:
    text, notes = render(NASTY, "sh")
    assert _sourced(tmp_path, text) == NASTY and notes == []
    assert not list(tmp_path.glob("PWNED*"))


def test_docker_format_is_literal_and_leaves_out_what_it_cannot_hold() -> None:
    text, notes = render({"A": 'it\'s $(x) "q"', "B": "one\ntwo"}, "docker")
    assert text == 'A=it\'s $(x) "q"\n'
    assert notes == ["B: left out: docker --env-file cannot hold a value with a line break"]


def test_keys_that_are_not_shell_names_are_left_out() -> None:
    text, notes = render({"OK": "1", "X;touch PWNED": "2"}, "dotenv")
    assert text == "OK=1\n"
    assert notes == ["'X;touch PWNED': left out: not a variable name a shell can set"]


@pytest.mark.slow
def test_stack_env_dotenv_through_the_cli_is_sourced_safely(tmp_path: Path) -> None:
    nasty = 'a $(touch PWNED) `touch PWNED2` it\'s "q" \\ x\nline ${web.port}'
    write_project(tmp_path, WEB + f"[stack]\nenv = {{ NASTY = {json.dumps(nasty)} }}\n")
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        dotenv = run_stack(["env", "-p", "dev", "--format", "dotenv"], tmp_path)
        as_json = run_stack(["env", "-p", "dev", "--format", "json"], tmp_path)
    finally:
        assert run_stack(["down", "-p", "dev"], tmp_path).returncode == 0
    assert dotenv.returncode == 0, dotenv.stderr
    expected = json.loads(as_json.stdout)
    assert "$(touch PWNED)" in expected["NASTY"] and "\nline" in expected["NASTY"]
    (tmp_path / "env").write_text(dotenv.stdout)
    script = (
        "set -a; . ./env; exec python3 -c 'import json, os; print(json.dumps(dict(os.environ)))'"
    )
    out = subprocess.run(["sh", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    got = json.loads(out.stdout)
    assert {k: got[k] for k in expected} == expected
    assert not list(tmp_path.glob("PWNED*"))
