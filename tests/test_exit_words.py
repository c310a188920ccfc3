"""One place words an exit (stackfixtures/_ended.py): a process killed by a signal before it
was ready, or a command killed by one, is "killed by SIGKILL" everywhere -- never "code -9"."""

from __future__ import annotations

from pathlib import Path

import pytest

import stackfixtures as sf
from stackfixtures import kind_api

from .conftest import start_error


@pytest.mark.slow
async def test_a_process_killed_before_ready_says_which_signal(tmp_path: Path) -> None:
    @sf.service(start_timeout=5)
    async def victim() -> object:
        probe = sf.probe.exec_("sleep", "30", timeout=60)  # only the death can end the wait
        async with sf.spawn(["sh", "-c", "sleep 0.1; kill -KILL $$"], ready=probe) as p:
            yield sf.Handle(pid=p.pid)

    error = await start_error(tmp_path, victim, sf.ProcessExited)
    assert isinstance(error, sf.ProcessExited) and error.returncode == -9
    said = str(error)
    assert "process killed by SIGKILL before readiness probe exec sleep 30 passed" in said, said
    assert "-9" not in said.splitlines()[0]


@pytest.mark.slow
async def test_a_command_killed_by_a_signal_says_which(tmp_path: Path) -> None:
    @sf.service
    async def task() -> object:
        await kind_api.run_once(["sh", "-c", "kill -TERM $$"])
        yield sf.Handle()

    said = str(await start_error(tmp_path, task, sf.CommandFailed))
    assert "sh killed by SIGTERM" in said, said


def test_exit_words() -> None:
    from stackfixtures._ended import exit_name, how_it_ended

    assert [exit_name(c) for c in (None, 0, 3, -9, -99)] == ["", "0", "3", "SIGKILL", "signal 99"]
    assert how_it_ended(-15) == "killed by SIGTERM" and how_it_ended(2) == "exited with code 2"
    err = sf.ProcessExited("db", "tcp 5432", -9, [])
    assert "process killed by SIGKILL before readiness probe tcp 5432 passed" in str(err)
    assert "db exited with code 3" in str(sf.CommandFailed("x", "db", 3, []))
