"""Old PostgreSQL homes (placement.prune): those whose state dir is gone are removed, the kept
one and one whose state dir is there are not, and a halt (a server stopping while the pruning
runs beside it) stops it at the next home, so a stop never waits for them all. A server begins
the pruning 2 s after its spawn (pruning.HomePruning: a stop before prunes nothing), or at its
spawn when no prune completed lately (short-lived servers still keep the homes in check)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackfixtures.kind_api import home_for
from stackfixtures.kinds.postgres import pruning
from stackfixtures.kinds.postgres.placement import prune
from stackfixtures.kinds.postgres.pruning import HomePruning


def homes(tmp_path: Path) -> tuple[Path, list[Path], Path]:
    root = tmp_path / "homes"
    root.mkdir()
    gone = [home_for(root, tmp_path / f"gone-{i}") for i in range(5)]  # state dirs not there
    for home in gone:
        (home / "pgdata").mkdir()
        (home / "pgdata" / "PG_VERSION").write_text("17\n")
    alive = tmp_path / "alive"
    alive.mkdir()
    return root, gone, home_for(root, alive)


def test_the_homes_of_state_dirs_gone_are_removed(tmp_path: Path) -> None:
    root, gone, alive = homes(tmp_path)
    kept = home_for(root, tmp_path / "kept-but-gone")
    prune(root, keep=str((tmp_path / "kept-but-gone").resolve()), halt=threading.Event())
    assert not any(h.exists() for h in gone)
    assert alive.exists() and kept.exists()


def test_a_halted_prune_stops_at_the_next_home(tmp_path: Path) -> None:
    root, gone, alive = homes(tmp_path)
    halt = threading.Event()
    halt.set()
    prune(root, keep="", halt=halt)
    assert all(h.exists() for h in gone) and alive.exists()


def test_only_homes_the_tool_made_are_removed(tmp_path: Path) -> None:
    """Whatever the root is set to (STACKFIXTURES_PGDATA_ROOT), a directory there is removed
    only when it is a home the tool made: named for the state dir its record names, a real
    directory, never through a link. A root that is not there is nothing to prune."""
    root, gone, _ = homes(tmp_path)
    stranger = root / "not-a-home"
    stranger.mkdir()
    (stranger / "owner").write_text(str(tmp_path / "gone-x"))  # (a record, a wrong name)
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "owner").write_text(str(tmp_path / "gone-y"))
    (root / gone[0].name).rename(tmp_path / "moved")  # its name now a link to a real home
    (root / gone[0].name).symlink_to(tmp_path / "moved")
    prune(root, keep="", halt=threading.Event())
    assert stranger.exists() and target.exists() and (tmp_path / "moved").exists()
    assert not any(h.exists() for h in gone[1:])
    prune(tmp_path / "no-root", keep="", halt=threading.Event())


def _server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[Path], Path]:
    """What HomePruning reads of a running server's context (its state dir), with the homes
    root where STACKFIXTURES_PGDATA_ROOT says (a root of its own: no prune recorded yet)."""
    root, gone, alive = homes(tmp_path)
    monkeypatch.setenv("STACKFIXTURES_PGDATA_ROOT", str(root))
    return SimpleNamespace(state_dir=tmp_path / "alive"), gone, alive


@pytest.fixture
def stamp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where a completed prune of this test's root is recorded (removed afterwards)."""
    monkeypatch.setenv("STACKFIXTURES_PGDATA_ROOT", str(tmp_path / "homes"))
    path = pruning._stamp()
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def pruned_lately(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stamp: Path) -> Any:
    """A server's context, homes, and a prune of their root recorded just now."""
    served = _server(tmp_path, monkeypatch)
    stamp.touch()
    return served


async def finished(p: HomePruning) -> None:
    async with asyncio.timeout(30):
        while not p.finished:
            await asyncio.sleep(0.01)


async def test_a_prune_not_done_lately_begins_at_the_spawn_and_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stamp: Path
) -> None:
    ctx, gone, alive = _server(tmp_path, monkeypatch)
    assert not pruning.pruned_lately()
    p = HomePruning(ctx, run_as="postgres", after=3600)  # (not waited for: none done lately)
    await finished(p)
    await p.stop()
    assert not any(h.exists() for h in gone) and alive.exists()
    assert stamp.exists() and pruning.pruned_lately()


async def test_after_a_recent_prune_a_server_prunes_only_once_its_start_is_over(
    pruned_lately: Any,
) -> None:
    ctx, gone, alive = pruned_lately
    p = HomePruning(ctx, run_as="postgres", after=0.5)
    await asyncio.sleep(0.2)
    assert all(h.exists() for h in gone)  # not begun with the start
    await finished(p)
    await p.stop()
    assert not any(h.exists() for h in gone) and alive.exists()


async def test_a_server_stopped_before_then_prunes_nothing_and_waits_for_nothing(
    pruned_lately: Any,
) -> None:
    ctx, gone, alive = pruned_lately
    p = HomePruning(ctx, run_as="postgres", after=3600)
    async with asyncio.timeout(30):  # (an hour's wait would fail it)
        await p.stop()
    assert p.finished and all(h.exists() for h in gone) and alive.exists()


async def test_a_server_that_is_not_run_as_another_user_prunes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stamp: Path
) -> None:
    ctx, gone, _ = _server(tmp_path, monkeypatch)
    p = HomePruning(ctx, run_as=None)
    assert p.finished
    await p.stop()
    assert all(h.exists() for h in gone) and not stamp.exists()
