"""The launcher's watch over its children's exits (child_exits.py): on Python 3.11 a pidfd per
child, watched by the loop that started it, in whatever thread that loop runs; no thread per
child. Real processes, in a Python of its own (the watcher is process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import asyncio, json, sys, threading
from stackfixtures._launcher import child_exits

installed = child_exits.install()
threads = set()

async def run_one(code):
    p = await asyncio.create_subprocess_exec(
        sys.executable, "-c", f"import sys, time; time.sleep(0.2); sys.exit({code})"
    )
    await asyncio.sleep(0.1)
    threads.update(t.name for t in threading.enumerate())
    return await p.wait()

out = {"installed": installed}
alone = threading.Thread(target=lambda: out.update(thread=asyncio.run(run_one(3))))
alone.start()  # a loop in another thread while no loop runs in the main one
alone.join(30)

async def main():
    return await asyncio.gather(run_one(4), asyncio.to_thread(lambda: asyncio.run(run_one(5))))

out["main"] = asyncio.run(main())
out["waiting_threads"] = sorted(t for t in threads if "waitpid" in t)
print(json.dumps(out))
"""


def test_every_loop_learns_of_its_own_childrens_exits() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["installed"] is (sys.version_info < (3, 12))
    assert out["thread"] == 3 and out["main"] == [4, 5]
    if out["installed"]:
        assert out["waiting_threads"] == []  # (3.11's own way: a thread per child)
