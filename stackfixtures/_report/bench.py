"""`stack bench shutdown --html`: each run's stop time as a bar (green graceful and clean, red
not), and the success rate with its 95 % Wilson interval, as one self-contained page."""

from __future__ import annotations

import time
from html import escape
from typing import Any

from .page import nice_step, page, table

WIDTH, HEIGHT = 1100, 300
LEFT, BOTTOM, TOP = 60, 30, 16


def render(summary: dict[str, Any], title: str = "stack bench shutdown") -> str:
    runs = summary.get("per_run", [])
    lo, hi = summary["ci95"]
    rate = summary["success_rate"]
    verdict = "good" if summary["successes"] == summary["runs"] else "bad"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">made {time.strftime("%Y-%m-%d %H:%M:%S")}</p>',
        f'<p>Success: <span class="{verdict}" id="success-rate">{summary["successes"]}/'
        f"{summary['runs']} ({rate:.2%})</span>, 95 % Wilson interval "
        f'<span id="wilson">{lo:.2%} to {hi:.2%}</span>; lost writes {summary["lost_writes"]}, '
        f"orphans {summary['orphans']}, forced stops {summary['forced_stops']}, slowest stop "
        f"{summary['slowest_stop_s']:.2f} s.</p>",
        "<h2>Success rate</h2>",
        interval(rate, lo, hi),
        "<h2>Stop time per run</h2>",
        stop_times(runs),
        "<h2>Runs</h2>",
        table(
            ["run", "ok", "stop", "acknowledged", "lost", "orphans", "forced", "slowest service"],
            [
                [
                    str(r["run"]),
                    '<span class="good">yes</span>'
                    if r["success"]
                    else '<span class="bad">no</span>',
                    f"{r['stop_s']:.2f} s",
                    str(r["acknowledged"]),
                    str(r["lost"]),
                    str(r["orphans"]),
                    escape(", ".join(r["forced"])),
                    escape(f"{r['slowest_service']} {r['slowest_service_stop_s']:.2f} s"),
                ]
                for r in runs
            ],
            numeric={0, 2, 3, 4, 5},
        ),
    ]
    return page(title, "\n".join(body))


def interval(rate: float, lo: float, hi: float) -> str:
    """A 0-100 % scale with the rate as a dot and the interval as a whisker."""
    w, h, left, right = WIDTH, 60, 40, 40

    def x(p: float) -> float:
        return round(left + p * (w - left - right), 1)

    out = [f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="success rate">']
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line class="grid" x1="{x(p)}" y1="8" x2="{x(p)}" y2="40"/>')
        out.append(f'<text class="axis" x="{x(p)}" y="56" text-anchor="middle">{p:.0%}</text>')
    out.append(
        f'<line x1="{x(lo)}" y1="24" x2="{x(hi)}" y2="24" stroke="#1d2430" stroke-width="2"/>'
        f'<line x1="{x(lo)}" y1="16" x2="{x(lo)}" y2="32" stroke="#1d2430" stroke-width="2"/>'
        f'<line x1="{x(hi)}" y1="16" x2="{x(hi)}" y2="32" stroke="#1d2430" stroke-width="2"/>'
        f'<circle cx="{x(rate)}" cy="24" r="6" fill="#3fae5a"><title>{rate:.2%} '
        f"(95 % CI {lo:.2%} to {hi:.2%})</title></circle>"
    )
    out.append("</svg>")
    return "".join(out)


def stop_times(runs: list[dict[str, Any]]) -> str:
    """A bar per run: seconds from SIGTERM to the launcher's exit."""
    if not runs:
        return "<p>no runs</p>"
    top = max(r["stop_s"] for r in runs) or 1.0
    step = nice_step(top, 6)
    scale = (HEIGHT - TOP - BOTTOM) / (step * (int(top / step) + 1))
    slot = (WIDTH - LEFT - 10) / len(runs)
    out = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="stop time per run">']
    tick = 0.0
    while tick * scale <= HEIGHT - TOP - BOTTOM + 1e-6:
        y = round(HEIGHT - BOTTOM - tick * scale, 1)
        out.append(f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{WIDTH - 10}" y2="{y}"/>')
        out.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{tick:g}s</text>'
        )
        tick += step
    for i, r in enumerate(runs):
        h = max(1.0, r["stop_s"] * scale)
        x = LEFT + i * slot + slot * 0.15
        colour = "#3fae5a" if r["success"] else "#d64541"
        out.append(
            f'<rect class="run" data-run="{r["run"]}" x="{round(x, 1)}" '
            f'y="{round(HEIGHT - BOTTOM - h, 1)}" width="{round(slot * 0.7, 1)}" '
            f'height="{round(h, 1)}" fill="{colour}"><title>run {r["run"]}: '
            f"{r['stop_s']:.2f} s, {'ok' if r['success'] else 'FAILED'}</title></rect>"
        )
        if len(runs) <= 40:
            out.append(
                f'<text class="axis" x="{round(x + slot * 0.35, 1)}" y="{HEIGHT - 12}" '
                f'text-anchor="middle">{r["run"]}</text>'
            )
    out.append("</svg>")
    return "".join(out)
