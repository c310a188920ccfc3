"""The garbage collector held while a `stack` process imports what it runs (_startup.py): let go
before any command runs but `stack run` (its launcher lets it go at its first spawn:
tests/test_imports_launcher.py sees it held then), and never touched in a process that did not
hold it (a pytest session, a program importing stackfixtures)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # fresh interpreters (tests/spawns.py)

CODE = """
import gc, sys
from stackfixtures import _startup
_startup.hold()
assert not gc.isenabled()
from stackfixtures.cli import main

@main.command("gc-state")
def state():
    print("collector running:", gc.isenabled(), "frozen:", gc.get_freeze_count() > 0)

main(["gc-state"], standalone_mode=False)
"""
UNTOUCHED = """
import gc
from stackfixtures import _startup
gc.disable()  # (the program's own choice)
_startup.release()
print("collector running:", gc.isenabled())
gc.enable()
_startup.release()
print("collector running:", gc.isenabled())
"""


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_command_runs_with_the_collector_let_go_and_the_start_frozen() -> None:
    assert run(CODE).strip() == "collector running: True frozen: True"


def test_a_process_that_did_not_hold_it_is_never_touched() -> None:
    assert run(UNTOUCHED).split("\n")[:2] == ["collector running: False", "collector running: True"]
