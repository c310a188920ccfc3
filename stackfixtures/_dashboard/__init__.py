"""The web dashboard of a running stack: a page on loopback behind a random token, its live
view fed by the control protocol (events, status, logs) and its buttons calling it.

It sits between `_control` (the protocol it speaks) and `_launcher` (which serves it for
`stack run/up --dashboard` over its LoopControl); `stack dashboard` serves it for a running
stack over RemoteControl. Starlette and uvicorn load only when a dashboard is served.
"""
