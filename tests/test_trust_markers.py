"""A state dir is the stack's own, and private (issue 21, items 1 and 7, as a newcomer found
them on main): a marker copied from elsewhere (or a state dir moved) is not a state dir's; a
directory holding a project is never removed, marker or not; `up` records the real path of a
state dir given through a link, so `clean` of that real dir agrees; whatever a stack makes in
its state dir (and PostgreSQL's home's owner record) is its user's alone."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from .cli_helpers import run_stack
from .conftest import DB_WEB, write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

MARKER = ".stackfixtures-state"


def stopped_state_dir(proj: Path) -> Path:
    """The state dir of `proj`'s dev profile, after one `up` and `down`."""
    write_project(proj, DB_WEB)
    assert run_stack(["up", "-p", "dev"], proj).returncode == 0
    assert run_stack(["down"], proj).returncode == 0
    return proj / ".stack" / "dev"


def test_a_copied_marker_does_not_make_a_directory_a_state_dir(tmp_path: Path) -> None:
    """The newcomer's case: `par` held another project and a marker copied from elsewhere."""
    real = stopped_state_dir(tmp_path / "proj")
    par = tmp_path / "adv" / "par"
    write_project(par / "p1", DB_WEB)
    shutil.copy(real / MARKER, par / MARKER)
    result = run_stack(["clean", "--state-dir", str(par)], tmp_path / "proj")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "nothing removed" in result.stderr and "Traceback" not in result.stderr
    assert (par / "p1" / "pyproject.toml").exists() and (par / "p1" / "profiles").is_dir()
    (par / "p1" / "pyproject.toml").unlink()  # no project there: the marker alone decides
    shutil.rmtree(par / "p1" / "profiles")
    (par / "p1" / "keep.txt").write_text("precious\n")
    result = run_stack(["clean", "--state-dir", str(par)], tmp_path / "proj")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"its marker was made for {real.resolve()}" in result.stderr, result.stderr
    assert f"stack clean --state-dir {real.resolve()}" in result.stderr
    assert (par / "p1" / "keep.txt").read_text() == "precious\n"


def test_a_moved_state_dir_is_not_removed_by_its_new_name(tmp_path: Path) -> None:
    real = stopped_state_dir(tmp_path / "proj")
    moved = tmp_path / "moved"
    real.rename(moved)
    result = run_stack(["clean", "--state-dir", str(moved)], tmp_path / "proj")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"its marker was made for {real.resolve()}" in result.stderr, result.stderr
    assert "remove it by hand" in result.stderr
    assert (moved / MARKER).exists()


def test_a_state_dir_holding_a_project_is_never_removed(tmp_path: Path) -> None:
    """Belt and braces: a project moved into a real state dir (depth 1 or 2) stays."""
    real = stopped_state_dir(tmp_path / "proj")
    for inside in (real / "p1", real / "logs"):
        write_project(inside, DB_WEB)
        result = run_stack(["clean", "-p", "dev"], tmp_path / "proj")
        assert result.returncode == 2, result.stdout + result.stderr
        assert "holds a project" in result.stderr and "nothing removed" in result.stderr
        assert (inside / "pyproject.toml").exists()
        (inside / "pyproject.toml").unlink()
    profiles = real / "p1" / "profiles"
    result = run_stack(["clean", "-p", "dev"], tmp_path / "proj")
    assert result.returncode == 2 and "holds a project" in result.stderr, result.stderr
    shutil.rmtree(profiles)
    shutil.rmtree(real / "logs" / "profiles")
    result = run_stack(["clean", "-p", "dev"], tmp_path / "proj")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not real.exists()


def test_a_marker_from_before_it_said_its_path_is_adopted_by_up(tmp_path: Path) -> None:
    """Such a marker does not let `clean` remove the dir; the next `up` there rewrites it."""
    state = stopped_state_dir(tmp_path / "proj")
    record = json.loads((state / MARKER).read_text())
    del record["path"]
    (state / MARKER).write_text(json.dumps(record))
    refused = run_stack(["clean", "-p", "dev"], tmp_path / "proj")
    assert refused.returncode == 2 and "a `stack up` there adopts it" in refused.stderr
    state = stopped_state_dir(tmp_path / "proj")
    assert json.loads((state / MARKER).read_text())["path"] == str(state.resolve())
    cleaned = run_stack(["clean", "-p", "dev"], tmp_path / "proj")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert not state.exists()


def test_up_through_a_symlinked_state_dir_records_its_real_path(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write_project(proj, DB_WEB)
    real = tmp_path / "real-state"
    real.mkdir(mode=0o700)
    link = tmp_path / "alias"
    link.symlink_to(real)
    env = {"STACKFIXTURES_REGISTRY": str(tmp_path / "registry")}
    up = run_stack(["up", "-p", "dev", "--state-dir", str(link)], proj, env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        assert json.loads((real / MARKER).read_text())["path"] == str(real.resolve())
        (entry,) = (tmp_path / "registry").glob("*.json")
        assert json.loads(entry.read_text())["state_dir"] == str(real.resolve())
    finally:
        down = run_stack(["down", "--state-dir", str(link)], proj, env=env)
        assert down.returncode == 0, down.stdout + down.stderr
    result = run_stack(["clean", "--state-dir", str(real)], proj)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not real.exists() and link.is_symlink()


def modes(top: Path) -> dict[str, str]:
    """Each directory and regular file under `top` (links not followed) that is not private
    (0700 / 0600), with its mode."""
    found = {}
    for dirpath, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            info = os.lstat(os.path.join(dirpath, name))
            want = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
            if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) != want:
                found[os.path.join(dirpath, name)] = oct(stat.S_IMODE(info.st_mode))
    return found


def test_what_a_stack_makes_in_its_state_dir_is_private(tmp_path: Path) -> None:
    """logs/ was 0755; the services' `port` files and report.html 0644."""
    proj = tmp_path / "proj"
    state = stopped_state_dir(proj)
    report = run_stack(["report", "-p", "dev"], proj)
    assert report.returncode == 0, report.stdout + report.stderr
    assert (state / "report.html").exists() and list(state.glob("services/*/port"))
    assert modes(state) == {}


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL's home outside the state dir: as root")
async def test_a_service_data_dir_and_postgres_home_record_are_private(
    tmp_path: Path, make_stack: Any
) -> None:
    """services/*/data was 0755; /var/tmp/stackfixtures-postgres/<hash>/owner 0644 (its dirs
    stay 0711: the PostgreSQL user must pass through them)."""
    stack = await make_stack(tmp_path, '[services.db]\nkind = "postgres"\nsource = "wheel"\n')
    await stack.start()
    try:
        data = tmp_path / "state" / "services" / "db" / "data"
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        home = Path(os.readlink(data / "pgdata")).parent
        assert stat.S_IMODE(home.stat().st_mode) == 0o711
        assert stat.S_IMODE((home / "owner").stat().st_mode) == 0o600
    finally:
        await stack.close()
    assert modes(tmp_path / "state" / "logs") == {}
