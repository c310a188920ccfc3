"""What to launch, and the command that launches it detached."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass
class Options:
    """What to launch: a profile (or the default project), where, and how."""

    profile: str | None = None
    state_dir: str | None = None
    services: list[str] = field(default_factory=list)
    mode: str | None = None
    as_json: bool = False
    on_demand: bool = False  # start nothing; start services when asked (pytest's shared stack)
    exit_with: int | None = None  # stop everything once this process (e.g. pytest) is gone
    exit_code_from: str | None = None  # stop when this service ends; exit with its code
    watch: bool = False  # restart services whose `watch` files change (_launcher/watch.py)
    replace: dict[str, str] = field(default_factory=dict)  # service -> URL it is replaced by
    service_lines: bool = True  # print services' output (not when detached: their logs have it)
    lock_fd: int | None = None  # the state dir's lock, taken by whoever started us (lock.py)
    dashboard: bool = False  # serve the web dashboard on loopback (_dashboard/), URL in status


def argv(opts: Options) -> list[str]:
    """The command that runs this launcher detached with `opts`."""
    out = [sys.executable, "-m", "stackfixtures._launcher"]
    for flag, value in (
        ("--profile", opts.profile),
        ("--state-dir", opts.state_dir),
        ("--mode", opts.mode),
        ("--exit-with", opts.exit_with),
        ("--exit-code-from", opts.exit_code_from),
        ("--lock-fd", opts.lock_fd),
    ):
        if value is not None:
            out += [flag, str(value)]
    if opts.on_demand:
        out.append("--on-demand")
    if opts.as_json:
        out.append("--json")
    if opts.watch:
        out.append("--watch")
    if opts.dashboard:
        out.append("--dashboard")
    if not opts.service_lines:
        out.append("--no-service-lines")
    for name, url in opts.replace.items():
        out += ["--replace", f"{name}={url}"]
    return [*out, *opts.services]
