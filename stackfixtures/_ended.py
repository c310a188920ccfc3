"""How a process ended, in words: the one place that turns an exit code (Popen's: -N when
signal N killed it) into what people read, and a failure's message into one ending with the
output the service wrote. A leaf (it imports nothing of the package), so
errors.py, the engine, the control and the CLI all word an exit through it."""

from __future__ import annotations

from collections.abc import Sequence


def exit_name(code: int | None) -> str:
    """`0`, `3`, `SIGKILL` (`signal 99` for a number no signal has): a process's exit, short,
    as a table shows it; "" when it has not ended."""
    if code is None:
        return ""
    if code < 0:
        import signal  # (its enums: only for a process a signal ended, not for each table)

        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return str(code)


def how_it_ended(code: int | None) -> str:
    """`killed by SIGKILL`, `exited with code 3`: how a process ended, in a sentence."""
    if code is None:
        return "exited"
    if code < 0:
        return f"killed by {exit_name(code)}"
    return f"exited with code {code}"


def with_tail(message: str, log_tail: Sequence[str]) -> str:
    """`message`, then the last lines the service wrote (or that it wrote none)."""
    if not log_tail:
        return message + "\n  (the service wrote no output)"
    body = "\n".join(f"  | {line}" for line in log_tail)
    return f"{message}\n  last {len(log_tail)} lines of its output:\n{body}"
