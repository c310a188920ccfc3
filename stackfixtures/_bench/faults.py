"""The faults `stack bench chaos` injects: which signal, to which process of the stack, in which
phase of its life, and when; drawn from a seeded generator so that a run can be replayed."""

from __future__ import annotations

import contextlib
import random
import signal
import time
from dataclasses import dataclass

import psutil

from .._engine.cleanup import reaper
from .processes import LauncherProcesses, alive

SIGNALS = ("SIGKILL", "SIGSTOP")
TARGETS = ("launcher", "watchdog", "service")
PHASES = ("start", "steady", "restart", "stop")


@dataclass(frozen=True)
class Fault:
    """`signal` to the `target` process, `delay` seconds into the `phase` (a SIGSTOPped
    process is resumed `pause` seconds later). `service`: the service preferred as the
    target, and the one `stack restart` restarts in the restart phase."""

    signal: str
    target: str
    phase: str
    delay: float
    pause: float
    service: str

    @property
    def kind(self) -> str:
        return f"{self.signal} {self.target} during {self.phase}"


@dataclass(frozen=True)
class Kind:
    """A fault asked for by name (`--kind SIGSTOP:launcher:steady:14`): its signal, target,
    phase and, for a SIGSTOP, how long the process stays stopped (None: drawn)."""

    signal: str
    target: str
    phase: str
    pause: float | None = None

    @classmethod
    def parse(cls, text: str) -> Kind:
        """ValueError (saying what is wrong) unless `text` is SIGNAL:TARGET:PHASE[:PAUSE]."""
        parts = text.split(":")
        if len(parts) not in (3, 4):
            raise ValueError(f"{text!r}: expected SIGNAL:TARGET:PHASE[:PAUSE]")
        for value, allowed in zip(parts, (SIGNALS, TARGETS, PHASES), strict=False):
            if value not in allowed:
                raise ValueError(f"{text!r}: {value!r} is not one of {', '.join(allowed)}")
        pause = None
        if len(parts) == 4:
            try:
                pause = float(parts[3])
            except ValueError:
                raise ValueError(f"{text!r}: pause {parts[3]!r} is not a number") from None
            if not 0 < pause <= 600:
                raise ValueError(f"{text!r}: pause must be over 0 and at most 600 seconds")
        return cls(parts[0], parts[1], parts[2], pause)


def plan(
    rng: random.Random,
    runs: int,
    services: list[str],
    max_pause: float,
    signals: tuple[str, ...] = SIGNALS,
    targets: tuple[str, ...] = TARGETS,
    phases: tuple[str, ...] = PHASES,
    kinds: tuple[Kind, ...] = (),
) -> list[Fault]:
    """`runs` faults drawn from `rng` (the same seed gives the same plan): first one of each
    of `kinds`, in order, then faults of any of `signals`, `targets` and `phases`."""
    faults = []
    for n in range(runs):
        kind = kinds[n] if n < len(kinds) else None
        phase = kind.phase if kind else rng.choice(phases)
        signal_ = kind.signal if kind else rng.choice(signals)
        target_ = kind.target if kind else rng.choice(targets)
        # a start takes seconds: anywhere in it; a restart or stop ~0.1-2 s: early
        early = phase in ("restart", "stop")
        delay = round(rng.uniform(0.05, 0.5) if early else rng.uniform(0.3, 3.0), 3)
        pause = round(rng.uniform(min(0.5, max_pause), max_pause), 3)
        faults.append(
            Fault(
                signal=signal_,
                target=target_,
                phase=phase,
                delay=delay,
                pause=kind.pause if kind and kind.pause else pause,
                service=rng.choice(services),
            )
        )
    return faults


@dataclass
class Hit:
    """The process a fault was sent to."""

    pid: int = 0
    service: str = ""
    process: psutil.Process | None = None

    @property
    def injected(self) -> bool:
        return self.process is not None


def target(procs: LauncherProcesses, fault: Fault, timeout: float = 10.0) -> Hit:
    """The process of `procs` the fault is meant for, once it exists (up to `timeout`): the
    launcher, its watchdog, or a service's process (`fault.service`'s when it runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.sample()
        found: psutil.Process | None = None
        if fault.target == "launcher":
            found = procs.launcher if procs.launcher is not None and alive(procs.launcher) else None
        elif fault.target == "watchdog":
            found = procs.watchdog()
        else:
            named = {_service(p): p for p in procs.services()}
            named.pop("", None)
            if named:
                found = named.get(fault.service) or named[sorted(named)[0]]
        if found is not None:
            return Hit(found.pid, _service(found) or fault.target, found)
        if procs.launcher is None or not alive(procs.launcher):
            break  # nothing of the stack will appear any more
        time.sleep(0.02)
    return Hit()


def _service(p: psutil.Process) -> str:
    marks = reaper.marks(p.pid)
    return marks[1] if marks else ""


def send(hit: Hit, name: str) -> str:
    """Send signal `name` to the hit process: "" once it landed, else why it did not (the
    process had exited already, or, for SIGSTOP, exited before it could be stopped)."""
    if hit.process is None:
        return "no such process appeared"
    if not alive(hit.process):  # a zombie takes a signal but nothing happens to it
        return f"pid {hit.pid} had exited already"
    try:
        hit.process.send_signal(getattr(signal, name))  # psutil checks it is the same process
    except psutil.Error:
        return f"pid {hit.pid} had exited already"
    if name == "SIGSTOP" and not _stopped(hit.process):
        return f"pid {hit.pid} exited before it stopped"
    return ""


def _stopped(p: psutil.Process, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if p.status() == psutil.STATUS_STOPPED:
                return True
            if not alive(p):
                return False
        except psutil.Error:
            return False
        time.sleep(0.005)
    return False


def resume(hit: Hit) -> None:
    """SIGCONT to a process a SIGSTOP landed on (if it is still there)."""
    if hit.process is not None:
        with contextlib.suppress(psutil.Error):
            hit.process.send_signal(signal.SIGCONT)
