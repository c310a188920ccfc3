"""`stack bench chaos`, for real: faults injected into the reference stack while a neighbour
runs, and the summary that says what they broke (the CI runs a longer one: see .ci/run)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from stackfixtures.bench.faults import PHASES, SIGNALS, TARGETS, plan

from .cli_helpers import run_stack

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
            # fault lands: then nothing is injected, which the CI's longer run allows)
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
    assert 0 < summary["slowest_answer_s"] <= summary["bound_s"] + 5
    for run in summary["per_run"]:
        assert run["success"] and run["injected"] and run["target_pid"] > 0
        fault = run["fault"]
        assert run["kind"] == f"{fault['signal']} {fault['target']} during {fault['phase']}"
        assert {a["command"].split()[0] for a in run["answers"]} >= {"up", "status", "down"}
        assert all(a["exit_code"] is not None for a in run["answers"])
    assert not list(tmp.glob("stack-chaos-*"))  # its state dirs and registry are gone
