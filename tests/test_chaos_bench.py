"""`stack bench chaos`, for real: faults injected into the reference stack while a neighbour
runs, and the summary that says what they broke (the CI runs a longer one: see .ci/run)."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import psutil
import pytest

from stackfixtures._bench.clients import Answer
from stackfixtures._bench.faults import PHASES, SIGNALS, TARGETS, Hit, Kind, plan, resume, send
from stackfixtures._bench.truth import down_said, killed_mid_stop, named_stopped, refused_stopped

from .cli_helpers import STACK, run_stack
from .conftest import wait_until

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

ROOT = Path(__file__).parent.parent
SEED = 21


def test_the_same_seed_plans_the_same_faults() -> None:
    services = ["postgres", "redis", "api_gateway"]
    first = plan(random.Random(SEED), 20, services, 2.0)
    assert first == plan(random.Random(SEED), 20, services, 2.0)
    assert first != plan(random.Random(SEED + 1), 20, services, 2.0)
    for f in first:
        assert (f.signal, f.target, f.phase) in {
            (s, t, p) for s in SIGNALS for t in TARGETS for p in PHASES
        }
        assert f.service in services and 0 < f.pause <= 2.0


def test_a_plan_keeps_to_the_kinds_asked_for() -> None:
    only = plan(random.Random(SEED), 10, ["db"], 1.0, signals=("SIGKILL",), phases=("stop",))
    assert {(f.signal, f.phase) for f in only} == {("SIGKILL", "stop")}


def test_two_runs_for_real_leave_nothing_and_lose_nothing(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    tmp = tmp_path / "tmp"  # where the bench makes its own directory (and must remove it)
    tmp.mkdir()
    result = run_stack(
        [
            "bench",
            "chaos",
            "-p",
            "dev",
            "--runs",
            "2",
            "--seed",
            str(SEED),
            "--json",
            str(out),
            # faults that always find their target (a fast `down` may be over before its
            # fault lands: then it is recorded as missed, which the CI's longer run allows)
            "--phase",
            "start",
            "--phase",
            "steady",
        ],
        cwd=ROOT,
        timeout=400,
        env={"TMPDIR": str(tmp)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(out.read_text())
    assert summary == json.loads(result.stdout.strip().splitlines()[-1])  # the same on stdout
    said = "\n".join(line for line in result.stdout.splitlines() if line.startswith("run "))
    assert summary["seed"] == SEED and summary["runs"] == 2 and summary["passed"] is True, said
    assert summary["faults_injected"] == 2 == sum(summary["faults_by_kind"].values())
    assert summary["leftovers"] == summary["neighbours_harmed"] == summary["writes_lost"] == 0
    assert summary["late_answers"] == 0 and summary["failed_kinds"] == {}
    assert summary["untrue_answers"] == 0 and summary["faults_missed"] == 0
    assert 0 < summary["slowest_answer_s"] <= summary["bound_s"] + 5
    for run in summary["per_run"]:
        assert run["success"] and run["injected"] and run["target_pid"] > 0
        assert run["missed"] == "" and run["untrue"] == []
        fault = run["fault"]
        assert run["kind"] == f"{fault['signal']} {fault['target']} during {fault['phase']}"
        assert {a["command"].split()[0] for a in run["answers"]} >= {"up", "status", "down"}
        assert all(a["exit_code"] is not None for a in run["answers"])
    assert not list(tmp.glob("stack-chaos-*"))  # its state dirs and registry are gone


def test_a_fault_that_never_landed_is_missed_not_injected() -> None:
    """A target gone (or a zombie) before the signal: the fault is recorded as missed."""
    proc = subprocess.Popen(["sleep", "30"])
    try:
        hit = Hit(proc.pid, "sleep", psutil.Process(proc.pid))
        assert send(hit, "SIGSTOP") == ""  # landed: the process is stopped
        assert psutil.Process(proc.pid).status() == psutil.STATUS_STOPPED
        resume(hit)
        assert send(hit, "SIGKILL") == ""
        proc.wait(timeout=10)  # reaped: gone
        assert "exited already" in send(hit, "SIGKILL")
        assert send(Hit(), "SIGSTOP") == "no such process appeared"
    finally:
        proc.kill()
        proc.wait()
    zombie = subprocess.Popen(["true"])
    try:
        wait_until(lambda: psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE, 10)
        missed = send(Hit(zombie.pid, "true", psutil.Process(zombie.pid)), "SIGKILL")
        assert "exited already" in missed  # a zombie takes the signal, and nothing happens
    finally:
        zombie.wait()


def _answer(code: int | None, output: str, command: str = "down --timeout 10") -> Answer:
    return Answer(command, 1.0, code, 15.0, output)


def test_a_down_killed_mid_stop_must_exit_non_zero_and_say_what_was_forced() -> None:
    died = {
        "exit_code": 1,
        "stops": [{"service": "db", "graceful": False}],
        "launcher_died": 42,
        "killed": False,
    }
    forced = "error: the launcher (pid 42) died before it stopped the stack; its watchdog "
    forced += "killed what it still ran: db (forced)"
    assert killed_mid_stop(_answer(1, forced), 42, died) == ""
    assert "exited 0" in killed_mid_stop(_answer(0, ""), 42, died)  # the finding
    assert "exited 0" in killed_mid_stop(_answer(0, "no stack is running"), 42, {})
    # done stopping before the SIGKILL landed: a clean record, and 0 is the truth
    clean = {"exit_code": 0, "stops": [{"service": "db", "graceful": True}]}
    assert killed_mid_stop(_answer(0, "stopped 1 service gracefully"), 42, clean) == ""
    assert down_said(_answer(0, "stopped 2 services; forced: db")) != ""
    assert down_said(_answer(1, "")) != ""
    assert down_said(_answer(1, "error: launcher pid 7 is stopped (SIGSTOP?)")) == ""


def test_a_stopped_launcher_must_be_named_while_it_is_stopped() -> None:
    named = _answer(1, "error: launcher pid 7 is stopped (SIGSTOP?); resume it", "status")
    assert named_stopped(named, 7, answered_while_stopped=True, pause=14) == ""
    assert "exit 0" in named_stopped(_answer(0, "api ready", "status"), 7, True, 14)
    # it waited for the SIGCONT: a long pause makes that a failure, a short one does not
    assert "SIGCONT" in named_stopped(_answer(0, "api ready", "status"), 7, False, 14)
    assert named_stopped(_answer(0, "api ready", "status"), 7, False, 2) == ""
    # `down` without --force refuses a stopped launcher, naming it; it must not say it stopped
    assert refused_stopped(_answer(1, named.output), 7) == ""
    assert "exit 0" in refused_stopped(_answer(0, "stopped 5 services gracefully"), 7)


def test_kinds_asked_for_come_first_in_order_then_drawn_ones() -> None:
    kinds = (Kind.parse("SIGSTOP:launcher:steady:14"), Kind.parse("SIGKILL:service:stop"))
    faults = plan(random.Random(SEED), 3, ["db"], 2.0, kinds=kinds)
    assert [(f.signal, f.target, f.phase) for f in faults[:2]] == [
        ("SIGSTOP", "launcher", "steady"),
        ("SIGKILL", "service", "stop"),
    ]
    assert faults[0].pause == 14 and 0 < faults[1].pause <= 2.0
    for bad in ("SIGSTOP:launcher", "SIGHUP:launcher:stop", "SIGSTOP:launcher:stop:-1"):
        with pytest.raises(ValueError, match="SIG"):
            Kind.parse(bad)


def test_a_sigterm_to_the_bench_stops_its_stacks(tmp_path: Path) -> None:
    """A CI timeout or a supervisor ends the bench with SIGTERM: its neighbour stack (a
    detached launcher, up the whole time) was left running; now its clean-up runs."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    bench = subprocess.Popen(
        [STACK, "bench", "chaos", "-p", "dev", "--runs", "3", "--seed", str(SEED)],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        neighbour = lambda: list(tmp.glob("stack-chaos-*/neighbour/control.json"))  # noqa: E731
        wait_until(lambda: bool(neighbour()), timeout=120)
        launcher = json.loads(neighbour()[0].read_text())["pid"]
        bench.terminate()
        assert bench.wait(timeout=120) != 0
        assert not psutil.pid_exists(launcher) or psutil.Process(launcher).status() == "zombie"
        assert not list(tmp.glob("stack-chaos-*")), "the bench's own dir is left"
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()


def test_the_bench_never_kills_a_group_whose_number_was_reused(tmp_path: Path) -> None:
    """The bench kills what is left of a stack by the groups its ledger recorded; a group
    whose number a new, unrelated leader took since (same pid, another start time) is not
    the stack's: it stays (as the watchdog's rule says)."""
    from stackfixtures._bench.processes import LauncherProcesses

    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        procs = LauncherProcesses(tmp_path)
        born = psutil.Process(stranger.pid).create_time()
        procs.groups[stranger.pid] = {
            "pid": stranger.pid,
            "pgid": stranger.pid,
            "create_time": born - 100,
        }
        assert procs.pgids() == []
        procs.kill()
        assert stranger.poll() is None, "an unrelated process group was killed"
        procs.groups[stranger.pid]["create_time"] = born  # the very leader recorded: its own
        assert procs.pgids() == [stranger.pid]
    finally:
        stranger.kill()
        stranger.wait()
