"""Destructive commands remove only what the stack made (issue 21, item 1): a state dir carries
a marker from its creation; `clean` and `down --volumes` refuse any directory without it, and
never `/`, a home, the project or its parents; a symlink inside a state dir is removed as a
link (its target untouched) unless the tool made it and its target's home names this state
dir as its owner (PostgreSQL's data dir as root), in which case that whole home goes."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import stackfixtures as sf
from stackfixtures.errors import NotAStateDir

from .cli_helpers import run_stack
from .conftest import DB_WEB, write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

MARKER = ".stackfixtures-state"
REFUSED = "is not a stackfixtures state dir (no marker); nothing removed"


def sentinel(where: Path) -> Path:
    """A directory holding a file, standing for a system or user dir clean must not touch."""
    where.mkdir(parents=True)
    (where / "keep.txt").write_text("precious\n")
    return where


def no_traceback(result: object) -> None:
    out = getattr(result, "stdout", "") + getattr(result, "stderr", "")
    assert "Traceback" not in out, out


def test_clean_refuses_a_directory_without_the_marker(tmp_path: Path) -> None:
    write_project(tmp_path / "proj", DB_WEB)
    etc = sentinel(tmp_path / "etc")
    result = run_stack(["clean", "--state-dir", str(etc)], tmp_path / "proj")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"error: {etc} {REFUSED}" in result.stderr
    assert "removed" not in result.stdout
    assert (etc / "keep.txt").read_text() == "precious\n"
    no_traceback(result)


def test_down_volumes_refuses_a_directory_without_the_marker(tmp_path: Path) -> None:
    """With nothing running there, `down --volumes` went on to remove the dir anyway."""
    write_project(tmp_path / "proj", DB_WEB)
    etc = sentinel(tmp_path / "etc")
    result = run_stack(["down", "--volumes", "--state-dir", str(etc)], tmp_path / "proj")
    assert result.returncode == 2, result.stdout + result.stderr
    assert REFUSED in result.stderr
    assert (etc / "keep.txt").exists()
    no_traceback(result)


def test_clean_refuses_the_project_its_parent_and_its_profiles(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write_project(proj, DB_WEB)
    (tmp_path / "neighbour.txt").write_text("x")
    for target in (proj / "profiles", proj, tmp_path):
        result = run_stack(["clean", "--state-dir", str(target)], proj)
        assert result.returncode == 2, (target, result.stdout, result.stderr)
        assert "nothing removed" in result.stderr
        no_traceback(result)
    assert (proj / "profiles" / "dev.toml").exists() and (tmp_path / "neighbour.txt").exists()


def test_the_project_root_and_a_home_are_refused_even_with_a_marker(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write_project(proj, DB_WEB)
    home = sentinel(tmp_path / "home")
    for planted in (proj, home):
        (planted / MARKER).write_text(json.dumps({"made_by": "stackfixtures", "id": "x"}))
    env = {"HOME": str(home)}
    for target in (proj, home):
        result = run_stack(["clean", "--state-dir", str(target)], proj, env=env)
        assert result.returncode == 2, (target, result.stdout, result.stderr)
        assert "nothing removed" in result.stderr
    assert (proj / "profiles" / "dev.toml").exists() and (home / "keep.txt").exists()


def test_the_filesystem_root_is_refused(tmp_path: Path) -> None:
    """(Before, this crashed with a traceback on /proc/1/cwd, after following links.)"""
    write_project(tmp_path, DB_WEB)
    result = run_stack(["clean", "--state-dir", "/"], tmp_path)
    assert result.returncode == 2 and "nothing removed" in result.stderr, result.stderr
    no_traceback(result)


def test_a_file_or_dev_null_as_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    write_project(tmp_path, DB_WEB)
    file = tmp_path / "a-file"
    file.write_text("data\n")
    for target in ("/dev/null", str(file)):
        result = run_stack(["clean", "--state-dir", target], tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"{target} is not a directory" in result.stderr
        no_traceback(result)
    assert file.read_text() == "data\n" and Path("/dev/null").exists()


def test_a_state_dir_given_as_a_symlink_is_refused(tmp_path: Path) -> None:
    write_project(tmp_path, DB_WEB)
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    assert run_stack(["down"], tmp_path).returncode == 0
    real = tmp_path / ".stack" / "dev"
    link = tmp_path / "alias"
    link.symlink_to(real)
    result = run_stack(["clean", "--state-dir", str(link)], tmp_path)
    assert result.returncode == 2 and "symlink" in result.stderr, result.stderr
    assert (real / MARKER).exists()


def test_a_new_state_dir_is_private_and_marked(tmp_path: Path) -> None:
    write_project(tmp_path, DB_WEB)
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        state = tmp_path / ".stack" / "dev"
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        marker = state / MARKER
        assert stat.S_IMODE(marker.stat().st_mode) == 0o600
        record = json.loads(marker.read_text())
        assert record["made_by"] == "stackfixtures"
        assert record["profile"] == "dev" and record["root"] == str(tmp_path.resolve())
        assert record["created"] and len(record["id"]) >= 16
    finally:
        run_stack(["down"], tmp_path)


async def test_a_stack_made_in_python_marks_its_state_dir_and_refuses_a_foreign_one(
    tmp_path: Path,
) -> None:
    state = tmp_path / "deep" / "state"
    sf.Stack(sf.Graph({}), state_dir=state, root=tmp_path, record=False)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(state.parent.stat().st_mode) == 0o700  # made for it: private too
    assert json.loads((state / MARKER).read_text())["by"] == "Stack"
    etc = sentinel(tmp_path / "etc")
    with pytest.raises(
        NotAStateDir, match=r"is not a stackfixtures state dir \(it holds keep\.txt\)"
    ):
        sf.Stack(sf.Graph({}), state_dir=etc, root=tmp_path, record=False)
    assert sorted(p.name for p in etc.iterdir()) == ["keep.txt"]


def test_an_old_state_dir_is_adopted_by_a_launcher_but_not_cleaned_before(tmp_path: Path) -> None:
    """A state dir an older version made (no marker, our files only): clean refuses it, the
    next launcher there adopts it (writes the marker), and then clean removes it."""
    write_project(tmp_path, DB_WEB)
    old = tmp_path / ".stack" / "dev"
    (old / "logs").mkdir(parents=True)
    (old / "logs" / "web.log").write_text("old run\n")
    (old / "last-run.json").write_text("{}")
    refused = run_stack(["clean", "-p", "dev"], tmp_path)
    assert refused.returncode == 2 and REFUSED in refused.stderr
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    assert run_stack(["down"], tmp_path).returncode == 0
    assert (old / MARKER).exists()
    cleaned = run_stack(["clean", "-p", "dev"], tmp_path)
    assert cleaned.returncode == 0 and "freed" in cleaned.stdout, cleaned.stderr
    assert not old.exists()


def test_up_refuses_a_foreign_directory_as_state_dir(tmp_path: Path) -> None:
    write_project(tmp_path / "proj", DB_WEB)
    etc = sentinel(tmp_path / "etc")
    result = run_stack(["up", "-p", "dev", "--state-dir", str(etc)], tmp_path / "proj")
    if result.returncode == 0:  # (the old behaviour: stop what it started before failing)
        run_stack(["down", "--state-dir", str(etc)], tmp_path / "proj")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not a stackfixtures state dir" in result.stdout + result.stderr
    assert sorted(p.name for p in etc.iterdir()) == ["keep.txt"]


def shared_dir(tmp_path: Path) -> Path:
    shared = sentinel(tmp_path / "shared")
    # Looks like an owned home (an `owner` record naming the state dir), but the tool did
    # not make it: it is still only a link target, never removed.
    (shared / "owner").write_text(str((tmp_path / ".stack" / "dev").resolve()))
    return shared


@pytest.mark.parametrize("how", ["down --volumes", "clean"])
def test_a_symlink_in_a_state_dir_is_removed_as_a_link(tmp_path: Path, how: str) -> None:
    write_project(tmp_path, DB_WEB)
    shared = shared_dir(tmp_path)
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    state = tmp_path / ".stack" / "dev"
    try:  # what `ln -sfn /some/shared/dir ${state_dir}/cache` in a service leaves
        (state / "cache").symlink_to(shared)
        (state / "services" / "web" / "pgdata").symlink_to(shared / "keep.txt")
    finally:
        if how == "clean":
            assert run_stack(["down"], tmp_path).returncode == 0
    result = run_stack([*how.split(), "-p", "dev"], tmp_path, timeout=120)
    assert result.returncode == 0 and "freed" in result.stdout, result.stdout + result.stderr
    assert not state.exists()
    assert (shared / "keep.txt").read_text() == "precious\n" and (shared / "owner").exists()


@pytest.fixture
def pgdata_root() -> Iterator[Path]:
    """A fresh directory the server's OS user can traverse (tmp_path sits under a 0700 dir
    only root may enter), removed afterwards."""
    where = Path(tempfile.mkdtemp(prefix="stackfixtures-test-", dir="/var/tmp"))
    where.chmod(0o711)
    try:
        yield where
    finally:
        shutil.rmtree(where)


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL's data lives outside only as root")
def test_postgres_home_outside_the_state_dir_is_removed_whole(
    tmp_path: Path, pgdata_root: Path
) -> None:
    """As root, PostgreSQL's data lives in a home of its own (STACKFIXTURES_PGDATA_ROOT),
    linked from the state dir: `down --volumes` and `clean` remove it, `owner` included."""
    homes = pgdata_root / "homes"
    env = {"STACKFIXTURES_PGDATA_ROOT": str(homes)}
    write_project(tmp_path, "[services.db]\nkind = 'postgres'\nsource = 'wheel'\n")
    for how in (["down", "--volumes"], ["clean", "-p", "dev"]):
        up = run_stack(["up", "-p", "dev"], tmp_path, timeout=120, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        (home,) = homes.iterdir()
        assert (home / "owner").is_file() and (home / "pgdata" / "PG_VERSION").is_file()
        if how[0] == "clean":
            assert run_stack(["down"], tmp_path, timeout=120, env=env).returncode == 0
        result = run_stack(how, tmp_path, timeout=120, env=env)
        assert result.returncode == 0 and "freed" in result.stdout, result.stdout + result.stderr
        assert list(homes.iterdir()) == [], how
        assert not (tmp_path / ".stack" / "dev").exists()


def test_what_could_not_be_removed_is_reported(tmp_path: Path) -> None:
    """No silent ignore_errors: a file clean cannot remove is named, and the exit is not 0."""
    write_project(tmp_path, DB_WEB)
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    assert run_stack(["down"], tmp_path).returncode == 0
    stuck = tmp_path / ".stack" / "dev" / "logs" / "web.log"
    made = subprocess.run(["chattr", "+i", str(stuck)], capture_output=True, check=False)
    if made.returncode != 0:  # (root may remove any other file: immutability is the way)
        pytest.skip(f"chattr +i does not work here ({made.stderr!r}): no file can be stuck")
    try:
        result = run_stack(["clean", "-p", "dev"], tmp_path)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "could not remove" in result.stderr and str(stuck) in result.stderr
        no_traceback(result)
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="as root the socket is in the data's home (the test above); "
    "test_as_normal_user.py runs this one as nobody",
)
def test_postgres_socket_home_of_a_long_state_dir_is_removed(tmp_path: Path) -> None:
    """A state dir whose path is too long for a socket in it: the server's socket is in a
    short home (with its owner record) linked from it, removed with it."""
    write_project(tmp_path, "[services.db]\nkind = 'postgres'\nsource = 'wheel'\n")
    state = tmp_path / ("s" * 100)
    up = run_stack(["up", "-p", "dev", "--state-dir", str(state)], tmp_path, timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        home = Path(os.readlink(state / "services" / "db" / "socket")).parent
        assert (home / "owner").read_text() == str((state / "services" / "db").resolve())
    finally:
        down = run_stack(["down", "--volumes", "--state-dir", str(state)], tmp_path, timeout=120)
    assert down.returncode == 0 and "freed" in down.stdout, down.stdout + down.stderr
    assert not home.exists() and not state.exists()
