"""Supervision with real processes: crashes noticed from the process itself, restarts with
back-off, the circuit breaker, per-edge cascades, liveness and fault injection."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

import stackfixtures as sf
from stackfixtures._define.policies import RestartPolicy
from stackfixtures._engine.events import Event
from stackfixtures._engine.lifecycle import State

from .conftest import until
from .engine_helpers import app, stack_of

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

QUICK = RestartPolicy("on-failure", max_restarts=3, window=60, backoff="fixed", delay=0.2, jitter=0)


def moves(events: list[Event], after: int = 0) -> list[tuple[str, str]]:
    return [(e.service, e.target) for e in events[after:] if e.source != e.target]


async def test_kill9_restarts_with_backoff_and_restarts_dependents_after(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, app("db", restart=QUICK), app("web", deps=("db",)))
    try:
        await stack.start(["web"])
        old_pid = stack.handle("db").pid
        mark = len(stack.events.events)
        stack.kill("db", signal.SIGKILL)
        await until(
            lambda: (
                stack.state("web") is State.READY
                and len(stack.events.events) > mark
                and stack.events.events[-1].service == "web"
            )
        )
        seq = moves(stack.events.events, mark)
        assert seq == [
            ("db", "failed"),  # noticed from the process itself
            ("web", "stopping"),
            ("web", "stopped"),  # its restart-edge dependent goes first
            ("db", "backoff"),
            ("db", "waiting"),
            ("db", "starting"),
            ("db", "ready"),
            ("web", "waiting"),
            ("web", "starting"),
            ("web", "ready"),  # after db is READY
        ]
        failed = next(e for e in stack.events.events[mark:] if e.target == "failed")
        assert (
            failed.extra["exit_code"] == -9
            and failed.reason == f"process {old_pid} killed by SIGKILL"
        )
        backoff = next(e for e in stack.events.events[mark:] if e.target == "backoff")
        assert backoff.extra["delay_s"] == 0.2 and "restart 1/3" in backoff.reason
        waiting = next(
            e for e in stack.events.events[mark:] if e.service == "db" and e.target == "waiting"
        )
        assert waiting.time - backoff.time >= 0.19  # it did wait out the back-off
        assert stack.handle("db").pid != old_pid
        assert httpx.get(stack.handle("web").url + "/health").status_code == 200
        metrics = stack.metrics("db")
        assert metrics["restarts"] == 1 and metrics["last_exit_code"] == -9
        assert metrics["state"] == "ready" and metrics["rss_mb"] > 0
    finally:
        await stack.close()


async def test_crash_loop_opens_the_circuit_and_edges_decide_dependents(tmp_path: Path) -> None:
    poison = tmp_path / "poison"
    stack = stack_of(
        tmp_path,
        app("db", "--crash-if-exists", str(poison), restart=QUICK),
        app("follows", deps=("db",), edges={"db": "restart"}),
        app("halts", deps=("db",), edges={"db": "stop"}),
        app("shrugs", deps=("db",), edges={"db": "ignore"}),
    )
    try:
        await stack.start()
        poison.write_text("from now on every start crashes")
        mark = len(stack.events.events)
        stack.kill("db")
        await until(lambda: stack.units["db"].circuit_open)
        ev = stack.events.events[mark:]
        assert sum(1 for e in ev if e.service == "db" and e.target == "backoff") == 3  # exactly N
        opened = [e for e in ev if e.extra.get("circuit") == "open"]
        assert len(opened) == 1 and opened[0].extra["restarts"] == 3
        assert stack.state("db") is State.FAILED
        assert stack.state("follows") is State.STOPPED
        assert stack.state("halts") is State.STOPPED
        assert stack.state("shrugs") is State.READY
        assert stack.metrics("db")["circuit"] == "open"
        # Fixed by hand: a manual restart closes the circuit; restart-edge dependents come back.
        poison.unlink()
        await stack.restart("db")
        await until(lambda: stack.state("follows") is State.READY)
        assert stack.state("halts") is State.STOPPED  # a stop edge is not started again
        assert stack.metrics("db")["circuit"] == "closed"
    finally:
        await stack.close()


async def test_crash_on_every_start_fails_start_after_n_restarts(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, app("db", "--crash", restart=QUICK), app("web", deps=("db",)))
    try:
        with pytest.raises(sf.DependencyFailed) as info:
            await stack.start(["web"])
        assert "crashing on purpose" in str(info.value)
        backoffs = [e for e in stack.events.events if e.service == "db" and e.target == "backoff"]
        assert len(backoffs) == 3 and stack.units["db"].circuit_open
        assert stack.state("web") is State.FAILED
    finally:
        await stack.close()


async def test_policies_no_and_always_and_clean_exit(tmp_path: Path) -> None:
    always = RestartPolicy("always", backoff="fixed", delay=0.05, jitter=0)
    stack = stack_of(
        tmp_path,
        app("once", "--exit-after", "1.0", "--exit-code", "0", restart=QUICK),
        app("again", "--exit-after", "1.0", "--exit-code", "0", restart=always),
        app("never", restart=RestartPolicy("no")),
    )
    try:
        await stack.start()
        stack.kill("never")
        await until(
            lambda: (
                stack.state("once") is State.FAILED
                and stack.units["again"].restarts >= 1
                and stack.state("never") is State.FAILED
            )
        )
        assert stack.units["once"].restarts == 0  # on-failure: a clean exit is not a failure
        assert stack.units["never"].restarts == 0
    finally:
        await stack.close()


async def test_half_open_after_cool_down_tries_once(tmp_path: Path) -> None:
    poison = tmp_path / "poison"
    policy = RestartPolicy(
        "on-failure", max_restarts=1, backoff="fixed", delay=0.05, jitter=0, half_open_after=0.5
    )
    stack = stack_of(tmp_path, app("db", "--crash-if-exists", str(poison), restart=policy))
    try:
        await stack.start()
        poison.write_text("x")
        stack.kill("db")
        await until(lambda: stack.units["db"].circuit_open)
        poison.unlink()  # the cause goes away while the circuit is open
        await until(lambda: stack.state("db") is State.READY)
        half = [e for e in stack.events.events if "half-open" in e.reason]
        assert half and not stack.units["db"].circuit_open
    finally:
        await stack.close()


async def test_sigstop_degrades_and_sigcont_recovers(tmp_path: Path) -> None:
    live = sf.liveness(sf.probe.http("/health"), period=0.2, timeout=0.2, failure_threshold=2)
    stack = stack_of(tmp_path, app("api", liveness=live))
    try:
        await stack.start()
        await until(lambda: stack.units["api"].health == "ok")
        paused_at = time.time()
        stack.pause("api")
        await until(lambda: stack.state("api") is State.DEGRADED, timeout=live.bound + 5)
        degraded = next(e for e in stack.events.events if e.target == "degraded")
        assert "liveness probe http /health failed 2 times" in degraded.reason
        assert degraded.time >= paused_at
        assert stack.metrics("api")["health"].startswith("failing")
        stack.resume("api")
        await until(lambda: stack.state("api") is State.READY)
        assert stack.units["api"].restarts == 0  # degraded is not dead: nothing restarted
    finally:
        stack.resume("api") if stack.processes("api") else None
        await stack.close()


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        ("fixed", [1.0, 1.0, 1.0, 1.0]),
        ("linear", [1.0, 2.0, 3.0, 4.0]),
        ("exponential", [1.0, 2.0, 4.0, 5.0]),
    ],
)
def test_backoff_shapes(backoff: str, expected: list[float]) -> None:
    policy = RestartPolicy(
        "on-failure",
        backoff=backoff,
        delay=1.0,
        max_delay=5.0,  # type: ignore[arg-type]
        jitter=0,
    )
    assert [policy.delay_for(n) for n in (1, 2, 3, 4)] == expected
    jittered = RestartPolicy("on-failure", backoff="fixed", delay=1.0, jitter=0.5)
    assert all(0.5 <= jittered.delay_for(1) <= 1.5 for _ in range(50))


async def test_a_crashed_services_old_handle_is_not_handed_out(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, app("db", restart=RestartPolicy("no")))
    try:
        await stack.start()
        stack.kill("db")
        await until(lambda: stack.state("db") is State.FAILED)
        with pytest.raises(sf.StartError, match="killed by SIGKILL"):
            await stack.start(["db"], retry_failed=False)  # not the dead pid's handle
    finally:
        await stack.close()


async def test_a_dependent_stopped_by_hand_stays_stopped(tmp_path: Path) -> None:
    slow = RestartPolicy("on-failure", backoff="fixed", delay=1.0, jitter=0)
    stack = stack_of(tmp_path, app("db", restart=slow), app("web", deps=("db",)))
    try:
        await stack.start(["web"])
        stack.kill("db")
        await until(lambda: stack.state("db") is State.BACKOFF)
        await stack.stop(["web"])  # while db waits to restart
        await until(lambda: stack.state("db") is State.READY)
        await asyncio.sleep(0.5)
        assert stack.state("web") is State.STOPPED
    finally:
        await stack.close()
