"""One self-contained HTML page: inline CSS and SVG only, nothing fetched when it is opened
(no scripts, fonts, images or stylesheets from elsewhere), so a report works offline and as
a CI artifact."""

from __future__ import annotations

from html import escape

STATE_COLOURS = {
    "waiting": "#b9c3cf",
    "starting": "#5b9bd5",
    "ready": "#3fae5a",
    "degraded": "#e0b020",
    "stopping": "#f08c3a",
    "failed": "#d64541",
    "backoff": "#9b59b6",
}

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px;
       color: #1d2430; background: #fbfcfd; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
h3 { font-size: 14px; margin: 18px 0 6px; }
.sub { color: #5a6576; margin: 0 0 12px; }
svg { width: 100%; height: auto; background: #fff; border: 1px solid #dde3ea; }
svg text { font: 12px system-ui, sans-serif; fill: #1d2430; }
svg .axis { fill: #5a6576; font-size: 11px; }
svg .grid { stroke: #edf0f4; }
svg .chain-lane { fill: #fff6d6; }
svg .chain-name { font-weight: 700; }
svg .chain-span { fill: none; stroke: #1d2430; stroke-width: 2; }
svg .m-restart { fill: #1d2430; }
svg .m-failure { stroke: #b01e1a; stroke-width: 2.5; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #dde3ea; text-align: left; }
th { background: #eef2f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
            vertical-align: -1px; border-radius: 2px; }
.chain { background: #fff6d6; padding: 6px 10px; border-radius: 4px; display: inline-block; }
.bad { color: #b01e1a; font-weight: 600; }
.good { color: #23803c; font-weight: 600; }
"""


def page(title: str, body: str) -> str:
    """The whole document around `body` (already escaped HTML)."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def legend() -> str:
    swatches = "".join(
        f'<span><i style="background:{colour}"></i>{escape(state)}</span>'
        for state, colour in STATE_COLOURS.items()
    )
    return (
        f'<p class="legend">{swatches}<span>▼ restart</span><span>✕ failure</span>'
        '<span><i style="background:#fff6d6;border:1px solid #1d2430"></i>critical chain</span></p>'
    )


def table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """An HTML table; `rows` hold escaped HTML; columns in `numeric` are right-aligned."""
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def nice_step(length: float, ticks: int = 10) -> float:
    """A round tick interval that puts at most about `ticks` ticks on `length` seconds."""
    for step in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if length / step <= ticks:
            return float(step)
    return max(3600.0, length / ticks)


def seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} s"
