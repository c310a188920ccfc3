"""`stack bench shutdown`: the graceful-stop success rate under traffic, with its confidence."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._control.exits import EXIT_DEFINITION, EXIT_STARTUP
from .common import load_or_exit, main, profile_option

if TYPE_CHECKING:
    from .._bench.workload import Workload
    from .._project import Project


def _workload(proj: Project, workload: str | None, service: str | None) -> tuple[Workload, int]:
    """The traffic a benchmark runs (--workload, else the profile's [bench.shutdown]) and how
    many writers run it; exit 2 saying why when it cannot be loaded."""
    from .._bench import workload as workloads

    if service is not None and service not in proj.graph:
        click.echo(f"error: the profile has no service {service!r}", err=True)
        sys.exit(EXIT_DEFINITION)
    profile = proj.full_profile
    spec = profile.spec.bench.shutdown if profile else None
    options = dict(spec.options) if spec else {}
    if service is not None:
        options["service"] = service
    try:
        traffic = workloads.workload_for(
            workload or (spec.workload if spec else None), proj.root, **options
        )
    except (ImportError, AttributeError, ValueError, TypeError) as e:
        click.echo(f"error: cannot load the workload: {e}", err=True)
        sys.exit(EXIT_DEFINITION)
    return traffic, spec.writers if spec else 2


@main.group()
def bench() -> None:
    """Benchmarks a team runs in CI."""


@bench.command()
@profile_option
@click.option("--runs", type=int, required=True, help="How many start/traffic/SIGTERM runs.")
@click.option(
    "--min-success",
    type=float,
    default=None,
    help="Exit 1 when the success rate is below this (e.g. 1.0).",
)
@click.option("--json", "json_file", default=None, help="Also write the summary to this file.")
@click.option(
    "--html",
    "html_file",
    default=None,
    help="Also write a page with each run's stop time and the success rate's interval.",
)
@click.option(
    "--workload",
    default=None,
    help="module:factory of the traffic and its check (default: the profile's "
    "[bench.shutdown] workload; none: no traffic).",
)
@click.option(
    "--service",
    default=None,
    help="The service the workload writes to (passed to it as `service`).",
)
@click.option("--state-dir", default=None, help="Default: a fresh temporary directory.")
def shutdown(
    profile: str | None,
    runs: int,
    min_success: float | None,
    json_file: str | None,
    html_file: str | None,
    workload: str | None,
    service: str | None,
    state_dir: str | None,
) -> None:
    """Start, write, SIGTERM mid-traffic, check: graceful, nothing left, nothing lost.

    Prints each run's outcome, then the success rate with its 95 % Wilson interval and the
    slowest stop; appends a Markdown summary to $GITHUB_STEP_SUMMARY when set.
    """
    from .._bench import shutdown as shutdown_bench

    proj = load_or_exit(profile)
    traffic, writers = _workload(proj, workload, service)
    import shutil
    import tempfile

    where = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="stack-bench-"))
    where.mkdir(mode=0o700, parents=True, exist_ok=True)  # as root, PostgreSQL's data and
    # socket live in their own home under /var/tmp: its server user never enters this dir
    try:
        summary = shutdown_bench.run(
            proj.root,
            str(proj.profile.path) if proj.profile else None,
            runs,
            where,
            traffic,
            writers=writers,
            log=click.echo,
        )
    except RuntimeError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_STARTUP)
    shutdown_bench.write_summary(summary, json_file)
    if html_file:
        from .._report import bench as bench_page

        page = Path(html_file)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(bench_page.render(summary), encoding="utf-8")
    if state_dir is None and summary["successes"] == summary["runs"]:
        shutil.rmtree(where, ignore_errors=True)  # kept only when a run failed, to look into
    lo, hi = summary["ci95"]
    click.echo(
        f"success {summary['successes']}/{summary['runs']} "
        f"({summary['success_rate']:.2%}, 95% CI {lo:.2%}-{hi:.2%}); "
        f"lost writes {summary['lost_writes']}, orphans {summary['orphans']}, "
        f"forced stops {summary['forced_stops']}, "
        f"slowest stop {summary['slowest_stop_s']:.2f}s"
    )
    click.echo(json.dumps({k: v for k, v in summary.items() if k != "per_run"}))
    if min_success is not None and summary["success_rate"] < min_success:
        sys.exit(1)


WORKLOAD_HELP = (
    "module:factory of the traffic and its check (default: the profile's "
    "[bench.shutdown] workload; none: no traffic)."
)


@bench.command()
@profile_option
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=None,
    help="How many faults to inject, one a run (default: one per --kind).",
)
@click.option("--seed", type=int, default=None, help="Replay the faults of this seed.")
@click.option("--json", "json_file", default=None, help="Also write the summary to this file.")
@click.option("--allow-failures", is_flag=True, help="Only report: exit 0 even when a check fails.")
@click.option("--workload", default=None, help=WORKLOAD_HELP)
@click.option("--service", default=None, help="The service the workload writes to.")
@click.option(
    "--bound",
    type=click.FloatRange(min=1),
    default=10.0,
    show_default=True,
    help="Seconds within which `stack status` and `stack down` must answer.",
)
@click.option(
    "--max-pause",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Longest time a SIGSTOPped process stays stopped before its SIGCONT.",
)
@click.option(
    "--signal",
    "signals",
    multiple=True,
    type=click.Choice(["SIGKILL", "SIGSTOP"]),
    help="Only these signals (repeatable; default: both).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    type=click.Choice(["launcher", "watchdog", "service"]),
    help="Only faults of these processes (repeatable; default: all three).",
)
@click.option(
    "--phase",
    "phases",
    multiple=True,
    type=click.Choice(["start", "steady", "restart", "stop"]),
    help="Only faults in these phases (repeatable; default: all four).",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="SIGNAL:TARGET:PHASE[:PAUSE]",
    help="Inject this fault first (repeatable, in order; PAUSE: seconds a SIGSTOP lasts), "
    "e.g. SIGSTOP:launcher:steady:14; the other runs are drawn.",
)
def chaos(
    profile: str | None,
    runs: int | None,
    seed: int | None,
    json_file: str | None,
    allow_failures: bool,
    workload: str | None,
    service: str | None,
    bound: float,
    max_pause: float,
    signals: tuple[str, ...],
    targets: tuple[str, ...],
    phases: tuple[str, ...],
    kinds: tuple[str, ...],
) -> None:
    """Inject faults under traffic, with a neighbour stack running: check nothing is left,
    the neighbour is untouched, no acknowledged write is lost, every client answers in time.

    Each run: SIGKILL or SIGSTOP (then SIGCONT) of the launcher, its watchdog or a service,
    during start, steady state, `stack restart` or `stack down`, drawn from --seed (printed,
    to replay). Prints each run and a JSON summary; exits 1 when a check failed.
    """
    import random

    from .._bench import chaos as chaos_bench
    from .._bench import chaos_summary
    from .._bench import shutdown as shutdown_bench
    from .._bench.faults import Kind

    try:
        asked = tuple(Kind.parse(k) for k in kinds)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--kind") from None
    runs = runs if runs is not None else len(asked)
    if runs < len(asked) or not runs:
        raise click.UsageError("--runs: give at least one run, and one for each --kind")
    proj = load_or_exit(profile)
    traffic, writers = _workload(proj, workload, service)
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    only: dict[str, tuple[Any, ...]] = {
        k: v
        for k, v in (
            ("signals", signals),
            ("targets", targets),
            ("phases", phases),
            ("kinds", asked),
        )
        if v
    }
    click.echo(f"chaos: seed {seed}, {runs} runs, profile {proj.label}")
    try:
        summary = chaos_bench.run(
            proj.root,
            str(proj.profile.path) if proj.profile else None,
            proj.graph.closure(proj.selected),
            runs,
            seed,
            traffic,
            writers=writers,
            bound=bound,
            max_pause=max_pause,
            only=only,
            log=click.echo,
        )
    except RuntimeError as e:  # the neighbour did not start: no run could be made
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_STARTUP)
    shutdown_bench.write_summary(summary, json_file, chaos_summary.markdown)
    click.echo(json.dumps(summary))
    if not summary["passed"] and not allow_failures:
        sys.exit(1)
