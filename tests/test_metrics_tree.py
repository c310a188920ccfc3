"""A service's RSS and CPU are its whole process tree's: the tree read from the kernel's
per-thread children lists (what `stack status` waits for, per service) is the one psutil finds
by reading every process of the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import psutil
import pytest

from stackfixtures._engine import metrics

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

TREE = "sleep 60 & (sleep 60 & sleep 60 & wait) & wait"
"""A shell with a child and a subshell that has two children of its own (a grandchild level)."""


@pytest.fixture
def tree() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sh", "-c", TREE], start_new_session=True)
    members: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 10
        while len(members) < 4:
            assert time.monotonic() < deadline, "the tree did not start"
            time.sleep(0.01)
            members = psutil.Process(proc.pid).children(recursive=True)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # (its own group: every process of it)
        proc.wait(timeout=10)
        _, alive = psutil.wait_procs(members, timeout=10)
        assert not alive


def test_the_tree_is_the_one_psutil_finds(tree: subprocess.Popen[bytes]) -> None:
    assert metrics._LISTS_CHILDREN  # (Linux: the fast way is the one tested here)
    everyone = {p.pid for p in psutil.Process(tree.pid).children(recursive=True)}
    assert len(everyone) == 4
    assert {p.pid for p in metrics._tree(tree.pid)} == {tree.pid, *everyone}


def test_without_the_kernels_lists_psutil_finds_it(
    tree: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_LISTS_CHILDREN", False)
    assert metrics._descendants(tree.pid) is None
    assert len(metrics._tree(tree.pid)) == 5


def test_a_process_gone_has_no_tree() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait(timeout=10)
    assert metrics._tree(gone.pid) == []
    assert metrics._descendants(gone.pid) == []
