"""The web dashboard of a running stack: a page on loopback behind a random token, its live
view fed by the control protocol (events, status, logs) and its buttons calling it.

It sits between `_control` (the protocol it speaks) and `_launcher` (which serves it for
`stack run/up --dashboard` over its LoopControl); `stack dashboard` serves it for a running
stack over RemoteControl. Starlette and uvicorn load only when a dashboard is served.
"""

from __future__ import annotations

NEEDS = ("starlette", "uvicorn", "sse_starlette")


def missing() -> str | None:
    """Why no dashboard can be served here (its extra is not installed), or None."""
    import importlib.util

    absent = [name for name in NEEDS if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    return f"the dashboard needs {', '.join(absent)}: pip install 'stackfixtures[dashboard]'"
