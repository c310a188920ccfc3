"""The engine with real processes: order, readiness gating, failure propagation, forced stops."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

import stackfixtures as sf
from stackfixtures._define.graph import Graph
from stackfixtures._engine.events import Event
from stackfixtures._engine.lifecycle import Lifecycle, State

from .conftest import HTTP_APP, PY
from .engine_helpers import app, stack_of

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


def first(events: list[Event], service: str, target: str) -> int:
    return next(i for i, e in enumerate(events) if e.service == service and e.target == target)


async def test_chain_starts_in_order_and_stops_in_reverse(tmp_path: Path) -> None:
    stack = stack_of(
        tmp_path, app("a", "--delay", "0.2"), app("b", deps=("a",)), app("c", deps=("b",))
    )
    handles = await stack.start(["c"])
    assert httpx.get(handles["c"].url + "/health").status_code == 200
    stops = await stack.close()
    ev = stack.events.events
    assert first(ev, "a", "ready") < first(ev, "b", "starting")
    assert first(ev, "b", "ready") < first(ev, "c", "starting")
    assert first(ev, "c", "stopped") < first(ev, "b", "stopping")
    assert first(ev, "b", "stopped") < first(ev, "a", "stopping")
    assert [s.service for s in stops] == ["c", "b", "a"]  # one record each, in stop order
    assert all(s.graceful for s in stops)
    stopped = [e for e in ev if e.target == "stopped"]
    assert [e.service for e in stopped] == ["c", "b", "a"]
    assert all(e.extra["graceful"] is True and e.extra["exit_codes"] == [0] for e in stopped)


async def test_independent_services_start_concurrently(tmp_path: Path) -> None:
    stack = stack_of(
        tmp_path,
        app("x", "--delay", "0.4"),
        app("y", "--delay", "0.4"),
        app("top", deps=("x", "y")),
    )
    await stack.start()
    await stack.close()
    ev = stack.events.events
    # The start windows overlap: each one began before the other was ready.
    assert first(ev, "x", "starting") < first(ev, "y", "ready")
    assert first(ev, "y", "starting") < first(ev, "x", "ready")


async def test_parallelism_is_bounded(tmp_path: Path) -> None:
    defs = [app(f"s{i}", "--delay", "0.2") for i in range(3)]
    stack = sf.Stack(
        Graph({d.name: d for d in defs}), state_dir=tmp_path, root=tmp_path, parallelism=1
    )
    await stack.start()
    await stack.close()
    ev = [e for e in stack.events.events if e.target in ("starting", "ready")]
    # With one slot, every start is followed by its own ready before the next start.
    assert [e.target for e in ev] == ["starting", "ready"] * 3


async def test_dependent_fails_at_once_with_the_dependency_log(tmp_path: Path) -> None:
    stack = stack_of(
        tmp_path,
        app("db", "--crash"),
        app("web", deps=("db",), timeout=60),
        app("other", "--delay", "0.1"),
    )
    with pytest.raises(sf.DependencyFailed) as info:
        await stack.start(["web", "other"])
    err = info.value
    assert err.service == "web" and err.dependency == "db"
    assert "crashing on purpose" in str(err)  # the dependency's own log tail
    assert stack.state("web") is State.FAILED and stack.state("db") is State.FAILED
    assert stack.state("other") is State.READY  # an independent branch still starts
    ev = stack.events.events
    assert not any(e.service == "web" and e.target == "starting" for e in ev)
    db_failed = ev[first(ev, "db", "failed")].time
    web_failed = ev[first(ev, "web", "failed")].time
    assert web_failed - db_failed < 1.0  # no waiting out web's 60 s start timeout
    await stack.close()


async def test_process_exit_before_ready_names_service_probe_and_log(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, app("db", "--crash"))
    with pytest.raises(sf.ProcessExited) as info:
        await stack.start()
    text = str(info.value)
    assert (
        "service 'db' (starting)" in text
        and "readiness probe http http://127.0.0.1:" in text  # resolved: the port filled in
        and "/health passed" in text
        and "exited with code 3" in text
    )
    assert text.rstrip().endswith("http_app: crashing on purpose")
    await stack.close()


async def test_probe_timeout_names_probe_and_ends_with_log(tmp_path: Path) -> None:
    never = sf.probe.tcp("127.0.0.1:9")  # discard port: nothing listens there
    stack = stack_of(tmp_path, app("db", probe=never, timeout=30))
    stack.graph["db"]
    definition = stack.graph.definitions["db"]
    stack.units["db"].definition = definition.evolve(start_timeout=0.5)
    with pytest.raises(sf.StartError) as info:
        await stack.start()
    assert "db" in str(info.value) and "http_app listening" in str(info.value)
    await stack.close()


async def test_sigterm_ignorer_is_killed_after_grace_and_recorded_forced(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, app("stubborn", "--ignore-term", grace=0.3))
    handles = await stack.start()
    pid = handles["stubborn"].pid
    [stop] = await stack.close()
    assert not stop.graceful
    assert stop.processes[0].returncode == -9
    assert "grace 0.3s expired" in stop.processes[0].note
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    stopped = next(e for e in stack.events.events if e.target == "stopped")
    assert stopped.extra["graceful"] is False


async def test_hurry_skips_remaining_grace(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, app("stubborn", "--ignore-term", grace=120))
    await stack.start()
    closing = asyncio.ensure_future(stack.close())
    await asyncio.sleep(0.3)
    assert not closing.done()
    stack.force()
    [stop] = await asyncio.wait_for(closing, 10)
    assert not stop.graceful and stop.processes[0].note == "hurried"


async def test_grandchild_is_gone_after_stop(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    stack = stack_of(tmp_path, app("parent", "--grandchild", str(pidfile)))
    await stack.start()
    grandchild = int(pidfile.read_text())
    assert psutil.pid_exists(grandchild)
    [stop] = await stack.close()
    assert stop.graceful and stop.processes[0].stragglers == 1
    gone = (
        not psutil.pid_exists(grandchild)
        or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
    )
    assert gone


async def test_stop_during_start_cancels_it(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, app("slow", "--delay", "30"), app("after", deps=("slow",)))
    starting = asyncio.ensure_future(stack.start())
    while stack.state("slow") is not State.STARTING or not stack.units["slow"].ctx.processes:  # type: ignore[union-attr]
        await asyncio.sleep(0.01)
    pid = stack.units["slow"].ctx.processes[0].pid  # type: ignore[union-attr]
    await stack.close()
    with pytest.raises(sf.StartError):
        await starting
    assert stack.state("slow") is State.STOPPED and stack.state("after") is State.STOPPED
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_sync_generator_service_and_handle_wiring(tmp_path: Path) -> None:
    @sf.service
    def db(ctx: sf.ServiceContext) -> Iterator[sf.Handle]:
        with sf.spawn([PY, HTTP_APP, "--port", "${port}"], ready=sf.probe.tcp()) as proc:
            yield sf.Handle(host="127.0.0.1", port=proc.port)

    @sf.service
    async def web(db: sf.Handle) -> AsyncIterator[sf.Handle]:
        async with sf.spawn(
            [PY, HTTP_APP, "--port", "${port}"],
            env={"DB_PORT": "${db.port}"},
            ready=sf.probe.all_(sf.probe.log("listening"), sf.probe.http("/health")),
        ) as p:
            yield sf.Handle(url=p.url)

    stack = stack_of(tmp_path, db, web)
    handles = await stack.start(["web"])
    body = httpx.get(handles["web"].url + "/env/DB_PORT").json()
    assert body["value"] == str(stack.handle("db").port)
    stops = await stack.close()
    assert all(s.graceful for s in stops)


async def test_teardown_code_runs_after_dependents_stopped(tmp_path: Path) -> None:
    order: list[str] = []

    @sf.service
    async def base() -> AsyncIterator[str]:
        yield "base"
        order.append("base down")

    @sf.service
    def top(base: str) -> Iterator[str]:
        yield base + "+top"
        order.append("top down")

    stack = stack_of(tmp_path, base, top)
    assert (await stack.start(["top"]))["top"] == "base+top"
    await stack.close()
    assert order == ["top down", "base down"]


async def test_exec_probe_and_crashing_fixture(tmp_path: Path) -> None:
    ok = sf.probe.exec_(PY, "-c", "import sys; sys.exit(0)")

    @sf.service
    async def broken() -> AsyncIterator[None]:
        raise RuntimeError("no config for broken")
        yield  # pragma: no cover

    stack = stack_of(tmp_path, app("svc", probe=ok), broken)
    await stack.start(["svc"])
    with pytest.raises(sf.StartupCrashed, match="raised RuntimeError: no config for broken"):
        await stack.start(["broken"])
    await stack.close()


def test_illegal_transition_is_a_bug() -> None:
    seen: list[tuple[str, str]] = []
    lc = Lifecycle("x", lambda s, a, b, reason, **kw: seen.append((str(a), str(b))))
    lc.move(State.WAITING)
    with pytest.raises(sf.IllegalTransition, match="'x': waiting -> ready"):
        lc.move(State.READY)
    assert seen == [("pending", "waiting")]


async def test_events_are_written_as_jsonl(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, app("a"))
    await stack.start()
    await stack.close()
    from stackfixtures._engine.events import read_events

    lines = read_events(tmp_path / "state" / "events.jsonl")
    assert [(e.source, e.target) for e in lines] == [
        ("pending", "waiting"),
        ("waiting", "starting"),
        ("starting", "ready"),
        ("ready", "stopping"),
        ("stopping", "stopped"),
    ]
    assert all(e.time > 0 and e.service == "a" for e in lines)
    assert (tmp_path / "state" / "logs" / "a.log").read_text().count("http_app listening") == 1
    assert os.environ.get("STACKFIXTURES_STACK") is None  # markers go to children only


async def test_double_forked_daemon_is_swept_after_stop(tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    # (a grace long enough for a loaded machine: once in CI the app was still there 5 s after
    # SIGTERM; if it is ever stuck again, the log below says where)
    stack = stack_of(tmp_path, app("forker", "--daemon", str(pidfile), grace=30))
    await stack.start()
    daemon = int(pidfile.read_text())
    assert os.getpgid(daemon) != stack.units["forker"].ctx.processes[0].pgid  # type: ignore[union-attr]
    [stop] = await stack.close()
    log = (tmp_path / "state" / "logs" / "forker.log").read_text()
    assert stop.graceful and stop.swept == 1, (stop, log)
    assert not psutil.pid_exists(daemon) or psutil.Process(daemon).status() == psutil.STATUS_ZOMBIE
    assert "swept 1 leftover process" in log


async def test_a_log_probe_counts_only_the_new_process_lines(tmp_path: Path) -> None:
    # The restarted process crashes before it logs anything: the line the first one wrote
    # must not make it ready.
    poison = tmp_path / "poison"

    @sf.service
    async def svc(ctx: sf.ServiceContext) -> AsyncIterator[sf.Handle]:
        argv = [PY, HTTP_APP, "--port", "${port}", "--crash-if-exists", str(poison)]
        async with sf.spawn(argv, ready=sf.probe.log("http_app listening")) as proc:
            yield sf.Handle(pid=proc.pid)

    stack = stack_of(tmp_path, svc)
    try:
        await stack.start()
        poison.write_text("x")
        with pytest.raises(sf.ProcessExited, match="exited with code 3"):
            await stack.restart("svc")
        assert stack.state("svc") is State.FAILED
    finally:
        await stack.close()
