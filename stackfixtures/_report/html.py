"""`stack report` and `pytest --stack-report`: timelines as one self-contained HTML file.
Each service is a lane of coloured state spans (a tooltip gives the reason), restarts and
failures are marked, the critical chain is highlighted, and a table has start/stop times."""

from __future__ import annotations

import time
from collections.abc import Callable
from html import escape

from .._engine.critical_chain import describe
from .page import STATE_COLOURS, legend, nice_step, page, seconds, table
from .timeline import Lane, Timeline

WIDTH = 1100  # the SVG's coordinate width; it scales to the page
LABEL = 180  # room for service names
TOP = 26  # room for the time axis
LANE = 28
BAR = 16


def render(timelines: list[Timeline], title: str, subtitle: str = "") -> str:
    """The whole report: one section per timeline (a stack)."""
    made = time.strftime("%Y-%m-%d %H:%M:%S")
    parts = [f"<h1>{escape(title)}</h1>", f'<p class="sub">{escape(subtitle)} · made {made}</p>']
    parts.append(legend())
    for tl in timelines:
        parts.append(section(tl))
    return page(title, "\n".join(parts))


def section(tl: Timeline) -> str:
    """One stack: its timeline, critical chain and durations table."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(tl.origin))
    earlier = f"; {tl.earlier_runs} earlier run(s) in the same log" if tl.earlier_runs else ""
    chain = escape(describe(tl.chain)) or "none measured (no service became ready)"
    return (
        f'<section class="stack" data-stack="{escape(tl.title)}">'
        f"<h2>{escape(tl.title)}</h2>"
        f'<p class="sub">started {when}, {tl.length:.2f} s shown{earlier}</p>'
        f"{svg(tl)}"
        f'<p>Critical chain: <span class="chain">{chain}</span></p>'
        f"{durations(tl)}{incidents(tl)}</section>"
    )


def svg(tl: Timeline) -> str:
    length = tl.length or 1.0
    span_w = WIDTH - LABEL - 12

    def x(t: float) -> float:
        return round(LABEL + max(0.0, t) / length * span_w, 1)

    height = TOP + LANE * len(tl.lanes) + 8
    out = [f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(tl.title)}">']
    step = nice_step(length)
    tick = 0.0
    while tick <= length + 1e-9:
        out.append(
            f'<line class="grid" x1="{x(tick)}" y1="{TOP - 6}" x2="{x(tick)}" y2="{height}"/>'
        )
        out.append(f'<text class="axis" x="{x(tick)}" y="14" text-anchor="middle">{tick:g}s</text>')
        tick += step
    in_chain = {link.service for link in tl.chain}
    for i, lane in enumerate(tl.lanes):
        out.append(_lane(lane, TOP + i * LANE, x, lane.service in in_chain))
    for link in tl.chain:
        y = TOP + [lane.service for lane in tl.lanes].index(link.service) * LANE + (LANE - BAR) / 2
        x0 = x(link.started_at)
        w = max(2.0, x(link.started_at + link.took) - x0)
        out.append(
            f'<rect class="chain-span" data-chain="{escape(link.service)}" x="{x0}" y="{y - 2}" '
            f'width="{round(w, 1)}" height="{BAR + 4}" rx="3"><title>critical chain: '
            f"{escape(link.service)} started at {link.started_at:.2f}s, ready after "
            f"{link.took:.2f}s</title></rect>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _lane(lane: Lane, top: float, x: Callable[[float], float], chain: bool) -> str:
    name = escape(lane.service)
    out = [f'<g class="lane" data-service="{name}">']
    if chain:
        out.append(f'<rect class="chain-lane" x="0" y="{top}" width="{WIDTH}" height="{LANE}"/>')
    label = f"{name} ★" if chain else name
    cls = ' class="chain-name"' if chain else ""
    out.append(f'<text{cls} x="8" y="{top + LANE / 2 + 4}">{label}</text>')
    bar_y = top + (LANE - BAR) / 2
    for s in lane.spans:
        x0, x1 = x(s.start), x(s.end)
        colour = STATE_COLOURS.get(s.state, "#cccccc")
        tip = f"{s.state} {s.start:.2f}s to {s.end:.2f}s" + (f": {s.reason}" if s.reason else "")
        out.append(
            f'<rect class="span s-{escape(s.state)}" x="{x0}" y="{bar_y}" '
            f'width="{max(1.0, round(x1 - x0, 1))}" height="{BAR}" fill="{colour}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    for m in lane.marks:
        mx = x(m.at)
        tip = f"<title>{escape(m.kind)} at {m.at:.2f}s: {escape(m.text)}</title>"
        if m.kind == "restart":
            points = f"{mx - 5},{top + 1} {mx + 5},{top + 1} {mx},{top + 8}"
            out.append(f'<polygon class="mark m-restart" points="{points}">{tip}</polygon>')
        else:
            y0, y1 = top + LANE / 2 - 6, top + LANE / 2 + 6
            out.append(
                f'<g class="mark m-failure"><line x1="{mx - 6}" y1="{y0}" x2="{mx + 6}" '
                f'y2="{y1}"/><line x1="{mx - 6}" y1="{y1}" x2="{mx + 6}" y2="{y0}"/>{tip}</g>'
            )
    out.append("</g>")
    return "".join(out)


def durations(tl: Timeline) -> str:
    rows = []
    for lane in tl.lanes:
        graceful = {True: '<span class="good">yes</span>', False: '<span class="bad">no</span>'}
        rows.append(
            [
                escape(lane.service),
                seconds(lane.starts[0] if lane.starts else None),
                seconds(lane.starts[-1] if len(lane.starts) > 1 else None),
                str(len(lane.starts)),
                str(lane.restarts),
                str(lane.failures),
                seconds(lane.stops[-1] if lane.stops else None),
                graceful.get(lane.graceful, "") if lane.graceful is not None else "",
                escape(", ".join(lane.depends_on)),
            ]
        )
    headers = ["service", "first start", "last start", "starts", "restarts", "failures"]
    headers += ["last stop", "graceful", "waited for"]
    return table(headers, rows, numeric={1, 2, 3, 4, 5, 6})


def incidents(tl: Timeline) -> str:
    """Every restart and failure in time order, with its reason (the tooltips, readable)."""
    marks = sorted(
        ((m.at, lane.service, m) for lane in tl.lanes for m in lane.marks), key=lambda t: t[:2]
    )
    if not marks:
        return ""
    rows = [[f"{at:.2f} s", escape(name), escape(m.kind), escape(m.text)] for at, name, m in marks]
    return "<h3>Restarts and failures</h3>" + table(["at", "service", "what", "why"], rows, {0})
