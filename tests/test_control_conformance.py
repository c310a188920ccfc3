"""The control protocol behaves the same whoever implements it: every test here runs once
against LocalControl (the engine in this process) and once against RemoteControl (a real
launcher over its Unix socket), with real processes."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from stackfixtures import _launcher as launcher
from stackfixtures import _project as projects
from stackfixtures._control.local import LocalControl
from stackfixtures._control.protocol import StackControl
from stackfixtures._engine.lifecycle import State
from stackfixtures._engine.runner import EngineThread
from stackfixtures._launcher import detached
from stackfixtures.errors import (
    DependencyFailed,
    ProbeTimeout,
    RequestRefused,
    ServiceError,
    UnknownService,
)

from .conftest import write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PROFILE = """
[services.db]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { http = "http://127.0.0.1:${port}/health" }
restart = { policy = "on-failure", backoff = "fixed", delay = 0.05 }

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = { db = "restart" }
ready = { http = "http://127.0.0.1:${port}/health" }

[services.worker]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = { db = "ignore" }
ready = { tcp = "${port}" }
replicas = 1

[services.deaf]
command = ["{PY}", "-c", "import time; time.sleep(60)"]
ready = { tcp = "${port}" }
start_timeout = 0.5

[services.needy]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["deaf"]
"""


@pytest.fixture(params=["local", "remote"])
def control(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StackControl]:
    """A control over a stack with nothing started yet (each test starts what it needs)."""
    path = write_project(tmp_path, PROFILE, name="ops")
    state = tmp_path / "state"
    if request.param == "local":
        proj = projects.load("ops", root=tmp_path)
        thread = EngineThread(proj.graph, state_dir=state, root=tmp_path)
        try:
            yield LocalControl(thread.stack, thread.loop, info={"profile": "ops"})
        finally:
            thread.close()
        return
    opts = launcher.Options(profile=str(path), state_dir=str(state), on_demand=True)
    proc, remote = detached.start_detached(opts, tmp_path, state / "launcher.log", 60, until=None)
    try:
        yield remote
    finally:
        remote.down(60)
        remote.close()
        proc.wait(10)


def stopped(pid: int, want: bool = True) -> bool:
    """Whether process `pid` is (or, with want=False, is no longer) stopped by a signal, once
    the kernel has delivered it (a signal takes effect a moment after kill returns)."""
    deadline = time.monotonic() + 5
    while (psutil.Process(pid).status() == psutil.STATUS_STOPPED) != want:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def pid_of(control: StackControl, name: str) -> int:
    row = next(r for r in control.status()["services"] if r["name"] == name)
    return int(row["pid"])


def test_start_gives_handles_and_status_shows_them(control: StackControl) -> None:
    handles = control.start(["web"])
    assert set(handles) == {"web"}
    assert httpx.get(handles["web"].url + "/health", trust_env=False).status_code == 200
    assert control.state("web") is State.READY and control.state("db") is State.READY
    assert control.state("worker") is State.PENDING
    assert control.handle("db").port != handles["web"].port
    status = control.status()
    assert status["stack"]["id"] and status["stack"]["profile"] == "ops"
    rows = {r["name"]: r for r in status["services"]}
    assert rows["web"]["endpoint"] == handles["web"].url
    assert psutil.pid_exists(rows["db"]["pid"]) and rows["db"]["restarts"] == 0
    assert {"uptime_s", "health", "rss_mb", "cpu_percent", "last_exit_code"} <= set(rows["db"])


def test_unknown_services_are_named(control: StackControl) -> None:
    for call in (
        lambda: control.state("ghost"),
        lambda: control.start(["ghost"]),
        lambda: control.kill("ghost"),
        lambda: control.logs(["ghost"]),
    ):
        with pytest.raises(UnknownService) as info:
            call()
        assert "ghost" in str(info.value) and "web" in str(info.value)


def test_a_stopped_service_has_no_handle(control: StackControl) -> None:
    control.start(["db"])
    with pytest.raises(ServiceError, match="web"):
        control.handle("web")


def test_stop_goes_dependents_first(control: StackControl) -> None:
    control.start(["web", "worker"])
    stops = control.stop(["db"])
    order = [s.service for s in stops]
    assert order.index("web") < order.index("db") and all(s.graceful for s in stops)
    assert "worker" in order  # stopping db stops everything that depends on it
    assert control.state("db") is State.STOPPED and control.state("web") is State.STOPPED


def test_restart_follows_edges(control: StackControl) -> None:
    control.start(["web", "worker"])
    db, web, worker = (pid_of(control, n) for n in ("db", "web", "worker"))
    handle = control.restart("db")
    control.wait_for("web", "ready")
    assert handle.port == control.handle("db").port  # a restarted service keeps its port
    assert pid_of(control, "db") != db
    assert pid_of(control, "web") != web  # restart edge: it followed
    assert pid_of(control, "worker") == worker  # ignore edge: left alone


def test_kill_waits_until_the_engine_noticed(control: StackControl) -> None:
    control.start(["db"])
    old = pid_of(control, "db")
    assert control.kill("db", "SIGKILL", wait=10) == [old]
    assert control.state("db") is not State.READY  # noticed: not the old incarnation any more
    control.wait_for("db", "ready", timeout=30)  # its restart policy brings it back
    assert pid_of(control, "db") != old
    events = control.events()
    assert any(e.service == "db" and e.target == "failed" for e in events)


def test_pause_and_resume(control: StackControl) -> None:
    control.start(["db"])
    pid = pid_of(control, "db")
    assert control.pause("db") == [pid]
    assert stopped(pid)
    assert control.resume("db") == [pid]
    assert stopped(pid, want=False)


def test_scale(control: StackControl) -> None:
    control.start(["worker"])
    assert control.scale("worker", 2) == {"worker": "ready", "worker.2": "ready"}
    ports = {control.handle(n).port for n in ("worker", "worker.2")}
    assert len(ports) == 2
    assert control.scale("worker", 1) == {"worker": "ready"}


def test_logs_tail_and_follow(control: StackControl) -> None:
    handle = control.start(["db"])["db"]
    first = control.logs(["db"], n=5)["db"]
    assert any("[stackfixtures] exec:" in line for line in first["lines"])
    got: dict[str, list[str]] = {}

    def follow() -> None:
        chunks = control.logs(since={"db": first["mark"]}, wait=20)
        got.update({n: c["lines"] for n, c in chunks.items()})

    reader = threading.Thread(target=follow)
    reader.start()
    time.sleep(0.3)  # the reader is waiting now: a request makes a new log line
    httpx.get(handle.url + "/health", trust_env=False)
    reader.join(30)
    assert any("request:" in line for line in got["db"])


def test_events_since_and_wait(control: StackControl) -> None:
    control.start(["db"])
    seen = len(control.events())
    assert control.events(since=seen, wait=0) == []
    later: list[object] = []
    reader = threading.Thread(target=lambda: later.extend(control.events(since=seen, wait=20)))
    reader.start()
    time.sleep(0.3)
    control.stop(["db"])
    reader.join(30)
    assert later and all(e.service == "db" for e in later)  # type: ignore[attr-defined]


def test_wait_for_times_out_saying_where_it_is(control: StackControl) -> None:
    control.start(["db"])
    with pytest.raises(TimeoutError, match="db is ready, not stopped"):
        control.wait_for("db", "stopped", timeout=0.3)


def test_metrics_and_down(control: StackControl) -> None:
    control.start(["web"])
    text = control.metrics()
    assert 'stackfixtures_service_up{service="web"' in text
    pids = [pid_of(control, n) for n in ("db", "web")]
    assert control.down(60)
    gone = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=10)
    assert not gone[1]


def test_signal_names_and_numbers_are_one(control: StackControl) -> None:
    control.start(["db"])
    pid = pid_of(control, "db")
    assert control.kill("db", int(signal.SIGSTOP)) == [pid]
    assert stopped(pid)
    assert control.kill("db", "CONT") == [pid]
    assert stopped(pid, want=False)


def test_several_logs_at_once_and_unknown_names_among_them(control: StackControl) -> None:
    control.start(["web"])
    both = control.logs(["db", "web"], n=2)
    assert set(both) == {"db", "web"} and all(len(c["lines"]) <= 2 for c in both.values())
    with pytest.raises(UnknownService, match="ghost"):
        control.logs(["db", "ghost"])


def test_stops_carry_exit_codes(control: StackControl) -> None:
    control.start(["db"])
    [stop] = control.stop(["db"])
    assert stop.service == "db" and stop.graceful and stop.exit_codes == [0]


def test_a_paused_service_stops_gracefully(control: StackControl) -> None:
    control.start(["db"])
    pid = pid_of(control, "db")
    control.pause("db")
    assert stopped(pid)
    [stop] = control.stop(["db"])
    assert stop.graceful, stop  # its stop signal is not left pending behind SIGSTOP


def test_refused_requests_raise_the_same_error(control: StackControl) -> None:
    for call, said in (
        (lambda: control.scale("worker", 0), "at least 1"),
        (lambda: control.kill("db", "SIGNOPE"), "unknown signal 'SIGNOPE'"),
        (lambda: control.kill("db", 4096), "unknown signal 4096"),
        (lambda: control.wait_for("db", "asleep", timeout=1), "unknown state 'asleep'"),
    ):
        with pytest.raises(RequestRefused, match=said) as info:
            call()
        assert info.value.status == 400
    with pytest.raises(RequestRefused, match="does not allow replicas"):
        control.scale("db", 2)


def test_a_failed_start_arrives_as_itself(control: StackControl) -> None:
    with pytest.raises(DependencyFailed) as info:
        control.start(["needy"])
    failed = info.value
    assert failed.service == "needy" and failed.dependency == "deaf"
    assert isinstance(failed.cause, ProbeTimeout)
    assert failed.cause.service == "deaf" and 0 < failed.cause.timeout <= 0.5
    assert failed.cause.probe.startswith("tcp ") and "${port}" not in failed.cause.probe
    assert str(failed).startswith("service 'needy' (waiting): dependency 'deaf' failed")


def test_a_list_is_started_together(control: StackControl) -> None:
    """web and worker both wait for db only: started in one request, the engine starts the
    second while the first is still coming up, as it does for one local call."""
    control.start(["web", "worker"])
    events = [(e.service, e.target) for e in control.events()]
    assert events.index(("worker", "starting")) < events.index(("web", "ready")), events
    stops = control.stop(["web", "worker"])
    assert {s.service for s in stops} == {"web", "worker"}
    assert control.state("db") is State.READY
