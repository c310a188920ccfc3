"""Issue 21 tried as an adversary would, after its parts were built: each test here is a way
past a promise that the first tests of those parts did not try (an encoded secret, a planted
marker, a directory swapped while `clean` runs, ...)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .cli_helpers import STACK, run_stack
from .conftest import PY, write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

MARKER = ".stackfixtures-state"

# A password with what encoders change: a quote, a backslash, `$`, a slash, a plus, a space,
# an ampersand and a non-ASCII letter.
SECRET = 'S3cr"et\\Pa$$wörd/+ &x'

PRINTS_ENCODED = """
import json, os, time, urllib.parse
p = os.environ["APP_PASSWORD"]
print("quoted", urllib.parse.quote(p, safe=""), flush=True)
print("plus", urllib.parse.quote_plus(p), flush=True)
print("json", json.dumps({"password": p}), flush=True)
print("json-utf8", json.dumps({"password": p}, ensure_ascii=False), flush=True)
print("repr", repr(p), flush=True)
print("done", flush=True)
time.sleep(60)
"""


async def logged(root: Path, make_stack: Any, script: str, secret: str, ready: str) -> str:
    """The log file of `script` run as a service given `secret` as APP_PASSWORD, once it
    printed `ready` and the stack closed."""
    (root / "app.py").write_text(script)
    toml_secret = secret.replace("\\", "\\\\").replace('"', '\\"')
    stack = await make_stack(
        root,
        f"""
[services.app]
command = ["{PY}", "app.py"]
cwd = "{root}"
env = {{ APP_PASSWORD = "{toml_secret}" }}
ready = {{ log = "{ready}" }}
""",
    )
    await stack.start(["app"])
    await stack.close()
    return (root / "state" / "logs" / "app.log").read_text()


async def test_a_password_printed_encoded_is_masked_in_the_log_file(
    tmp_path: Path, make_stack: Any
) -> None:
    """A service that logs its settings as JSON (structured logging), or builds a URL of its
    own, writes its password escaped or percent-encoded: that is the password too."""
    log = await logged(tmp_path, make_stack, PRINTS_ENCODED, SECRET, "done")
    lines = {line.split(" ", 1)[0]: line for line in log.splitlines() if " " in line}
    for form in ("quoted", "plus", "json", "json-utf8", "repr"):
        assert "***" in lines[form], (form, lines[form])
    assert "Pa$$w" not in log and "Pa%24%24w" not in log and "Pa%24%24w" not in log, log


def limited_memory() -> None:
    """(In the child) an address space of 1 GiB: a command that reads a huge file whole fails
    rather than taking the machine's memory."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_a_huge_marker_is_refused_without_being_read(tmp_path: Path) -> None:
    """A marker is a few hundred bytes; one of 3 GiB (sparse, so cheap to plant: any user can
    in a dir of their own) was read whole, a MemoryError traceback, or the memory of the
    machine that runs `stack clean --all` as root."""
    write_project(tmp_path / "proj", "[services.a]\ncommand = ['sleep', '60']\n")
    state = tmp_path / "proj" / ".stack" / "dev"
    state.mkdir(parents=True)
    with open(state / MARKER, "wb") as marker:
        marker.truncate(3 << 30)
    (state / "keep.txt").write_text("precious\n")
    for args in (["clean", "--state-dir", str(state)], ["clean", "--all"]):
        done = subprocess.run(
            [STACK, *args],
            cwd=tmp_path / "proj",
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=limited_memory,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr, done.stderr
        assert "is not a stackfixtures state dir" in done.stderr, done.stderr
        assert (state / "keep.txt").read_text() == "precious\n"


def swap_parent_when_read(fifo: Path, parent: Path, to: Path, done: threading.Event) -> None:
    """(The attacker, who owns `parent`) once a reader opens `fifo`, replace `parent` by a
    symlink to `to`, then let the reader go on (it reads no stack pointer)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:  # ENXIO: nobody reads it yet
                raise
            time.sleep(0.01)
            continue
        parent.rename(parent.with_name(parent.name + "-was"))
        parent.symlink_to(to)
        os.write(fd, b"not a pointer")
        os.close(fd)
        done.set()
        return


def test_clean_removes_the_dir_it_checked_even_if_a_parent_is_swapped_for_a_link(
    tmp_path: Path,
) -> None:
    """The user who owns a state dir's parent (a checkout of another account, a shared dir)
    swaps that parent for a symlink after `clean` checked the marker and before it removes:
    `clean` removed by name again, so through the link, e.g. /etc for `--state-dir P/etc`.
    The window is held open here with a fifo at the stack pointer's name, which `clean` reads
    in between; any slow step (a big tree to walk) opens it too."""
    write_project(tmp_path / "proj", "[services.a]\ncommand = ['sleep', '60']\n")
    system = tmp_path / "system"
    (system / "etc").mkdir(parents=True)
    (system / "etc" / "keep.txt").write_text("precious\n")
    theirs = tmp_path / "theirs"
    state = theirs / "etc"
    state.mkdir(parents=True)
    mark(state)
    os.mkfifo(state / "control.json")
    swapped = threading.Event()
    attacker = threading.Thread(
        target=swap_parent_when_read,
        args=(state / "control.json", theirs, system, swapped),
        daemon=True,
    )
    attacker.start()
    done = subprocess.run(
        [STACK, "clean", "--state-dir", str(state)],
        cwd=tmp_path / "proj",
        capture_output=True,
        text=True,
        timeout=60,
    )
    attacker.join(timeout=30)
    assert (system / "etc" / "keep.txt").read_text() == "precious\n", (
        swapped.is_set(),
        done.stdout + done.stderr,
    )
    assert "Traceback" not in done.stderr, done.stderr


def mark(state: Path) -> None:
    """A marker as a stack writes it (made for this very directory)."""
    record = {"made_by": "stackfixtures", "path": os.path.realpath(state)}
    (state / MARKER).write_text(json.dumps(record))


def test_a_planted_stack_pointer_removes_no_file_outside_the_state_dir(tmp_path: Path) -> None:
    """control.json names the socket to remove once its launcher is gone: whoever can write
    the state dir (its owner, when root runs `stack status` in another account's checkout)
    had root unlink any file, e.g. /etc/shadow."""
    write_project(tmp_path, "[services.a]\ncommand = ['sleep', '60']\n")
    precious = tmp_path / "system" / "shadow"
    precious.parent.mkdir()
    precious.write_text("precious\n")
    state = tmp_path / ".stack" / "dev"
    state.mkdir(parents=True)
    mark(state)
    pointer = {"socket": str(precious), "pid": 2**22 + 1, "create_time": 1.0, "stack_id": "x"}
    pointer |= {"profile": "dev", "root": "/", "state_dir": str(state), "started": 1.0}
    (state / "control.json").write_text(json.dumps(pointer))
    run_stack(["status", "-p", "dev"], tmp_path)
    assert precious.exists()


@pytest.mark.parametrize("pointer", ["{}", "[1]", '{"socket": 1}'])
def test_a_malformed_stack_pointer_is_no_traceback(tmp_path: Path, pointer: str) -> None:
    write_project(tmp_path, "[services.a]\ncommand = ['sleep', '60']\n")
    state = tmp_path / ".stack" / "dev"
    state.mkdir(parents=True)
    mark(state)
    (state / "control.json").write_text(pointer)
    for args in (["status", "-p", "dev"], ["clean", "-p", "dev"]):
        done = run_stack(args, tmp_path)
        assert "Traceback" not in done.stderr, done.stderr


def test_clean_does_not_empty_a_directory_mounted_in_the_state_dir(tmp_path: Path) -> None:
    """A directory mounted inside a state dir (a CI cache or a dataset bound into a service's
    dir) is not the stack's: clean emptied it (then failed on the busy mount point), as it
    would have followed a symlink."""
    write_project(tmp_path, "[services.a]\ncommand = ['sleep', '60']\n")
    state = tmp_path / ".stack" / "dev"
    state.mkdir(parents=True)
    mark(state)
    (state / "logs").mkdir()
    (state / "logs" / "a.log").write_text("a line\n")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "keep.txt").write_text("precious\n")
    mount_point = state / "services" / "a" / "cache"
    mount_point.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(shared), str(mount_point)], check=True, timeout=30)
    try:
        done = run_stack(["clean", "-p", "dev"], tmp_path)
        assert (shared / "keep.txt").read_text() == "precious\n", done.stdout + done.stderr
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"{mount_point}: a mount point" in done.stderr, done.stderr
        assert not (state / "logs").exists() and not (state / MARKER).exists()
    finally:
        subprocess.run(["umount", str(mount_point)], check=True, timeout=30)


LONG_LINE = """
import os, sys, time
unit = "0123456789" + os.environ["APP_PASSWORD"]
sys.stdout.write(unit * {n} + "\\n")
sys.stdout.write("done\\n")
sys.stdout.flush()
time.sleep(60)
"""


async def test_a_line_over_a_mebibyte_is_kept_whole_and_masked_whole(
    tmp_path: Path, make_stack: Any
) -> None:
    """A line longer than the reader's buffer (1 MiB: a JSON dump, a minified page) lost its
    first mebibyte, and its rest was masked in 64 KiB pieces, each on its own: a password
    cut by a piece's end reached the file in two halves."""
    n = 100_000  # 3 MB, the password 100,000 times, 10 characters apart
    log = await logged(tmp_path, make_stack, LONG_LINE.format(n=n), "hunter2-Secret-pw", "^done$")
    body = "".join(
        line for line in log.splitlines() if line.startswith(("0", "*")) or "0123" in line
    )
    assert body.count("0123456789") == n, body.count("0123456789")
    assert body.count("***") == n, body.count("***")
    assert "hunter" not in log and "Secret-pw" not in log


def test_a_state_dir_on_a_full_disk_is_an_error_naming_it_not_a_traceback(tmp_path: Path) -> None:
    """The marker is the first thing written in a new state dir: on a full disk `stack up`
    ended in an OSError traceback from _mark."""
    write_project(tmp_path, "[services.a]\ncommand = ['sleep', '60']\n")
    full = tmp_path / "full"
    full.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], check=True)
    try:
        with contextlib.suppress(OSError), open(full / "fill", "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        done = run_stack(["up", "-p", "dev", "--state-dir", str(full / "s")], tmp_path)
        assert done.returncode in (2, 3), done.stdout + done.stderr  # not started, said why
        assert "Traceback" not in done.stderr, done.stderr
        assert f"state dir {full / 's'}" in done.stderr and "No space left" in done.stderr
        assert not (full / "s").exists() or not any((full / "s").iterdir())  # no half marker
    finally:
        subprocess.run(["umount", str(full)], check=True, timeout=30)


def test_a_state_dir_another_user_made_is_refused_not_adopted(tmp_path: Path) -> None:
    """`stack up --state-dir /tmp/ci-state` as root: another user who made that (predictable)
    directory first, with a marker and `logs` linked to a directory of root's choosing, had
    root adopt it and create its service logs there; they can change anything in it later."""
    write_project(tmp_path, "[services.a]\ncommand = ['sh', '-c', 'echo hello; sleep 60']\n")
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    planted = tmp_path / "ci-state"
    planted.mkdir()
    mark(planted)
    (planted / "logs").symlink_to(elsewhere)
    for path in (planted, planted / MARKER, planted / "logs"):
        os.chown(path, 65534, 65534, follow_symlinks=False)
    done = run_stack(["up", "-p", "dev", "--state-dir", str(planted)], tmp_path)
    if done.returncode == 0:  # (the old code) stop what it started
        run_stack(["down", "--state-dir", str(planted)], tmp_path)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "belongs to uid 65534" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert list(elsewhere.iterdir()) == []


def test_every_directory_a_stack_makes_in_its_state_dir_is_private(tmp_path: Path) -> None:
    """The state dir was 0700, but `logs/` and a service's `data/` were made with the umask
    (0755): private only as long as the state dir's own mode is never widened."""
    write_project(tmp_path, "[services.a]\ncommand = ['sh', '-c', 'echo hi; exec sleep 60']\n")
    done = run_stack(["up", "-p", "dev"], tmp_path)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        run_stack(["down", "-p", "dev"], tmp_path)
    state = tmp_path / ".stack" / "dev"
    dirs = [Path(d) for d, _, _ in os.walk(state)]
    assert state / "logs" in dirs
    wide = {str(d): oct(d.stat().st_mode & 0o777) for d in dirs if d.stat().st_mode & 0o077}
    assert wide == {}
