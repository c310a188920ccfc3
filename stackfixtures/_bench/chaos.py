"""`stack bench chaos`: faults injected into a running stack, and what they must not break.

Each run brings the profile's stack up with the real `stack up` on one state dir, runs the
project's shutdown workload against it (_bench/workload.py), and injects one fault drawn from a
seeded plan (_bench/faults.py): SIGKILL or SIGSTOP (resumed after a moment) of the launcher, its
watchdog or a service, during the start, in steady state, during a `stack restart` or during a
`stack down`. A neighbour stack of the same profile runs on another state dir all along. After
`stack status` and `stack down`, it checks:

- nothing of the stack is left (_bench/processes.py: by parent, ledger, group and marker);
- the neighbour is untouched: the same launcher, watchdog and service processes, answering;
- nothing acknowledged was lost (the stack is started again on the same state dir to look);
- every client command answered within its bound, and told the truth (_bench/truth.py): a
  stopped launcher is named while it is stopped, a `down` whose launcher was SIGKILLed
  mid-stop exits non-zero saying what was forced;
- a fault whose target was gone before it landed is recorded as missed, not as injected.

A `down` may refuse (exit 1) to wait on a launcher that is stopped or still stopping; the
bench then gets the stack stopped all the same with `down --force`, and checks what is left.

Everything it started is stopped by pid or group, whatever happens; its directory (state
dirs, the registry of crashed stacks its stacks share) is removed at the end.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .._control import last_run
from .._control.remote import connect
from .._control.stopping import KILLED_WAIT
from .._engine.cleanup import lock
from . import faults as chaos_faults
from . import truth
from .chaos_summary import ChaosRun, line, summary
from .clients import Answer, Clients, Running
from .faults import Fault
from .processes import Identity, LauncherProcesses, describe, identities
from .shutdown import ready_handles
from .workload import Workload, Writers

UP_BOUND = 180.0
"""Seconds a `stack up` may take (it waits for the whole stack, initdb included)."""
RESTART_BOUND = 60.0
LONG_PAUSE = truth.NAMED + truth.STARTUP + 2.0
"""A launcher stopped this long is also asked to `down` while stopped (then `down --force`)."""
DOWN_SLACK = 1.0 + truth.STARTUP
"""Seconds past its --timeout by which `stack down` must have answered."""
SETTLE = 10.0
"""Seconds after `stack down` answered within which every process of the stack must be gone."""
TRAFFIC = 0.5
"""Seconds of writes before a restart or stop begins."""


class Chaos:
    """The stack under test and its neighbour, both of one profile, in `base`."""

    def __init__(
        self,
        root: Path,
        profile: str | None,
        base: Path,
        workload: Workload,
        writers: int,
        bound: float,
        log: Any,
    ) -> None:
        self.base = base
        self.workload = workload
        self.writers = writers
        self.bound = bound
        self.log = log
        self.state = base / "stack"
        self.neighbour = base / "neighbour"
        # The stacks' registry of crashed stacks is the bench's own: it sweeps no one else's,
        # and leaves nothing in the user's.
        self.clients = Clients(root, profile, {"STACKFIXTURES_REGISTRY": str(base / "registry")})
        self.started: list[LauncherProcesses] = []  # every launcher, to stop whatever happens
        self.neighbour_ids: list[Identity] = []

    # -- the stacks ------------------------------------------------------------------------

    def up(self, state_dir: Path) -> tuple[LauncherProcesses, Running]:
        """`stack up` on `state_dir`, its launcher found as soon as it exists."""
        procs = LauncherProcesses(state_dir)
        self.started.append(procs)
        running = self.clients.start(state_dir, "up", "--timeout", f"{UP_BOUND - 10:g}")
        procs.find_launcher(running.pid, timeout=30)
        return procs, running

    def up_ready(self, state_dir: Path) -> LauncherProcesses:
        procs, running = self.up(state_dir)
        answer = self.clients.finish(running, UP_BOUND)
        procs.sample()
        if answer.exit_code != 0:
            said = answer.why() if answer.in_time else f"no answer within {UP_BOUND:g}s"
            said += _log_tails(state_dir, said)
            raise RuntimeError(
                f"`stack up` on {state_dir} failed (exit {answer.exit_code}):\n{said}"
            )
        return procs

    def down(self, state_dir: Path, *force: str) -> Answer:
        """`stack down`, held to its --timeout (honoured within a second) and its start-up;
        with `--force` the wait for the launcher it SIGKILLs too."""
        bound = self.bound + DOWN_SLACK + (KILLED_WAIT if force else 0)
        return self.clients.run(
            state_dir, "down", "--timeout", f"{self.bound:g}", *force, bound=bound
        )

    def stop_stack(self, record: ChaosRun) -> None:
        """`down`; when it refused (a launcher stopped or still stopping: exit 1, the stack
        still there), `down --force`, as a user would."""
        answer = self.down(self.state)
        if answer.exit_code != 0 and lock.held(self.state):
            record.forced_down = True
            self.down(self.state, "--force")

    def start_neighbour(self) -> None:
        procs = self.up_ready(self.neighbour)
        self.neighbour_ids = identities(procs)

    def neighbour_harm(self) -> list[str]:
        """What of the neighbour is no longer as it was (then it is brought back)."""
        harmed = [f"{i.what} pid {i.pid} is gone" for i in self.neighbour_ids if not i.same()]
        status = self.clients.run(self.neighbour, "status", "--json", bound=self.bound)
        if status.exit_code != 0:
            harmed.append(f"`stack status` of the neighbour: exit {status.exit_code}")
        elif '"state": "failed"' in status.output or '"state": "stopped"' in status.output:
            harmed.append("the neighbour has a failed or stopped service")
        if harmed:
            self.down(self.neighbour)
            for procs in self.started:
                if procs.state_dir == self.neighbour:
                    procs.kill()
            self.start_neighbour()
        return harmed

    # -- one run ---------------------------------------------------------------------------

    def one_run(self, n: int, fault: Fault) -> ChaosRun:
        record = ChaosRun(run=n, fault=asdict(fault), kind=fault.kind)
        first_answer = len(self.clients.answers)
        writers: Writers | None = None
        procs: LauncherProcesses | None = None
        during: Running | None = None
        stopping: Answer | None = None
        try:
            if fault.phase == "start":
                procs, up = self.up(self.state)
                time.sleep(fault.delay)
                self._inject(procs, fault, record)
                self.clients.finish(up, UP_BOUND)
            else:
                procs = self.up_ready(self.state)
                with connect(self.state) as control:
                    handles = ready_handles(control)
                writers = Writers(self.workload, handles, self.writers).start()
                time.sleep(TRAFFIC)
                if fault.phase == "restart":
                    during = self.clients.start(self.state, "restart", fault.service)
                elif fault.phase == "stop":
                    during = self.clients.start(self.state, "down", "--timeout", f"{self.bound:g}")
                time.sleep(fault.delay)
                self._inject(procs, fault, record)
                if during is not None:
                    bound = RESTART_BOUND if fault.phase == "restart" else self.bound + DOWN_SLACK
                    answer = self.clients.finish(during, bound)
                    stopping = answer if fault.phase == "stop" else None
            procs.sample()
            self.clients.run(self.state, "status", bound=self.bound)
            self.stop_stack(record)
            self._check_truth(record, fault, stopping, first_answer)
            if writers is not None:
                record.acknowledged = len(writers.stop())
            left = procs.settle(SETTLE)
            record.leftovers = [describe(p) for p in left]
            procs.kill()
            record.neighbour_harmed = self.neighbour_harm()
            if writers is not None and writers.acked:
                record.lost = self._verify(writers.acked)
        except Exception as e:  # a run that could not be carried out failed: say why
            record.error = f"{type(e).__name__}: {e}"
        finally:
            if writers is not None:
                writers.stop(timeout=15)
            self.clients.kill_all()
            for stack in self.started:
                if stack.state_dir == self.state:
                    stack.kill()
        answers = self.clients.answers[first_answer:]
        record.answers = [{**asdict(a), "output": a.why(4)[-400:]} for a in answers]
        record.late = [f"{a.command} took over {a.bound:g}s" for a in answers if not a.in_time]
        return record

    def _inject(self, procs: LauncherProcesses, fault: Fault, record: ChaosRun) -> None:
        hit = chaos_faults.target(procs, fault)
        procs.sample()  # its stack id and groups, before anything is killed
        record.target_pid, record.target_service = hit.pid, hit.service
        record.missed = chaos_faults.send(hit, fault.signal)
        record.injected = not record.missed
        if not record.injected or fault.signal != "SIGSTOP":
            return
        resume_at = time.monotonic() + fault.pause
        asked = self.clients.start(self.state, "status")  # asked while it is stopped
        while_stopped = asked.wait(fault.pause)
        if while_stopped and fault.target == "launcher" and fault.pause >= LONG_PAUSE:
            self._force_stopped(record, hit.pid)  # a user would not wait for the SIGCONT
        time.sleep(max(0.0, resume_at - time.monotonic()))
        chaos_faults.resume(hit)
        answer = self.clients.finish(asked, self.bound)
        if fault.target == "launcher":
            wrong = truth.named_stopped(answer, hit.pid, while_stopped, fault.pause)
            record.untrue += [wrong] if wrong else []

    def _force_stopped(self, record: ChaosRun, pid: int) -> None:
        """The launcher is stopped (and stays so): `down` must refuse, naming it, within its
        bound; then `down --force` stops the stack (its watchdog kills every service)."""
        refused = self.down(self.state)
        wrong = truth.refused_stopped(refused, pid)
        record.untrue += [wrong] if wrong else []
        record.forced_down = True
        self.down(self.state, "--force")

    def _check_truth(
        self, record: ChaosRun, fault: Fault, stopping: Answer | None, first_answer: int
    ) -> None:
        """The exit codes of this run's `down`s against last-run.json (read before the
        stack is started again to count its writes, which forgets it)."""
        last = last_run.read(self.state)
        record.last_run = last_run.summary(last) if last else ""
        downs = [a for a in self.clients.answers[first_answer:] if a.command.startswith("down")]
        record.untrue += [w for w in map(truth.down_said, downs) if w]
        killed = record.injected and (fault.target, fault.signal) == ("launcher", "SIGKILL")
        if stopping is not None and killed:
            wrong = truth.killed_mid_stop(stopping, record.target_pid, last)
            record.untrue += [wrong] if wrong else []

    def _verify(self, acked: list[Any]) -> int:
        """Start the stack again on the same state dir; how many acknowledged writes are gone."""
        procs = self.up_ready(self.state)
        try:
            with connect(self.state) as control:
                return self.workload.verify(ready_handles(control), acked)
        finally:
            self.down(self.state)
            procs.settle(SETTLE)
            procs.kill()

    def close(self) -> None:
        """Stop everything this bench started, neighbour included, and forget its state."""
        self.clients.kill_all()
        for state_dir in (self.state, self.neighbour):
            if state_dir.exists():
                self.down(state_dir)
        for procs in self.started:
            procs.kill()
        self.clients.kill_all()
        for state_dir in (self.state, self.neighbour):
            if state_dir.exists():  # what the stacks keep outside it (PostgreSQL's data) too
                self.clients.run(state_dir, "clean", bound=60)


def _log_tails(state_dir: Path, said: str, lines: int = 6) -> str:
    """The last lines of the logs of the services `said` names (why they failed)."""
    out = ""
    for log in sorted((state_dir / "logs").glob("*.log")):
        if f"'{log.stem}'" in said:
            with contextlib.suppress(OSError):
                tail = log.read_text(errors="replace").splitlines()[-lines:]
                out += f"\n{log}:\n" + "\n".join(f"  | {line}" for line in tail)
    return out


def _stop_by_signal(signum: int, _frame: object) -> None:
    """SIGTERM (a CI timeout, a supervisor) ends the bench through its clean-up: its stacks,
    the neighbour's included, are stopped, not left running detached."""
    raise SystemExit(128 + signum)


def run(
    root: Path,
    profile: str | None,
    services: list[str],
    runs: int,
    seed: int,
    workload: Workload,
    writers: int = 2,
    bound: float = 10.0,
    max_pause: float = 2.0,
    only: dict[str, tuple[Any, ...]] | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """`runs` faults drawn from `seed` (see the module doc); the summary as a dict."""
    plan = chaos_faults.plan(random.Random(seed), runs, services, max_pause, **(only or {}))
    base = Path(tempfile.mkdtemp(prefix="stack-chaos-"))
    chaos = Chaos(root, profile, base, workload, writers, bound, log)
    results: list[ChaosRun] = []
    stopped = signal.signal(signal.SIGTERM, _stop_by_signal)  # finally: must run on SIGTERM too
    try:
        chaos.start_neighbour()
        for n, fault in enumerate(plan, 1):
            result = chaos.one_run(n, fault)
            results.append(result)
            log(line(result, runs))
    finally:
        chaos.close()
        shutil.rmtree(base, ignore_errors=True)
        signal.signal(signal.SIGTERM, stopped)
    return summary(results, seed, bound, chaos.clients.answers)
