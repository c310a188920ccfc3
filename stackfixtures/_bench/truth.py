"""Whether the client commands of a chaos run told the truth: what `stack status` and
`stack down` said and their exit codes, held against what happened (the fault that landed,
and `last-run.json`, the record of how the launcher's run ended).

- a `stack status` asked while the launcher was stopped (SIGSTOP) names it ("launcher pid N
  is stopped") and exits non-zero, within NAMED seconds: not only once it is resumed;
- a `stack down` of a stopped launcher exits 1 naming it (`down --force` then kills it);
- a `stack down` whose launcher was SIGKILLed while it stopped the stack exits non-zero and
  says what was forced (unless the launcher had recorded a clean end before it was killed);
- no `down` exits 0 while saying something was forced, none exits non-zero saying nothing.
"""

from __future__ import annotations

from typing import Any

from .clients import Answer

NAMED = 5.0
"""Seconds within which a client names a stopped launcher (issue 21, item 5)."""
STARTUP = 1.5
"""Seconds a `stack` command may take to start before it asks anything (on a busy machine)."""


def named_stopped(answer: Answer, pid: int, answered_while_stopped: bool, pause: float) -> str:
    """What is wrong with the `status` asked while launcher `pid` was stopped for `pause`
    seconds ("" if nothing)."""
    if not answered_while_stopped:
        if pause >= NAMED + STARTUP:
            return (
                f"`status` did not name stopped launcher pid {pid} within {NAMED + STARTUP:g}s: "
                f"it answered only after its SIGCONT ({answer.seconds:g}s)"
            )
        return ""  # resumed before it had to answer: whatever it said is about a live one
    if answer.exit_code == 0 or f"launcher pid {pid} is stopped" not in answer.output:
        return (
            f"`status` while launcher pid {pid} was stopped: exit {answer.exit_code}, "
            f"said {answer.why(3)!r}"
        )
    return ""


def refused_stopped(answer: Answer, pid: int) -> str:
    """A `down` (without --force) of stopped launcher `pid`: it must exit 1 naming it."""
    if answer.exit_code is None:
        return ""  # late: counted as such
    if answer.exit_code != 1 or f"launcher pid {pid} is stopped" not in answer.output:
        return (
            f"`{answer.command}` of stopped launcher pid {pid}: exit {answer.exit_code}, "
            f"said {answer.why(3)!r}"
        )
    return ""


def down_said(answer: Answer) -> str:
    """A `down` whose exit code and words disagree ("" if they agree)."""
    if answer.exit_code is None:
        return ""  # late: counted as such
    said = answer.output.lower()
    if answer.exit_code == 0 and ("forced" in said or "error:" in said):
        return f"`{answer.command}` exited 0 but said {answer.why(3)!r}"
    if answer.exit_code != 0 and "error" not in said and "forced" not in said:
        return f"`{answer.command}` exited {answer.exit_code} saying nothing of why"
    return ""


def killed_mid_stop(answer: Answer, pid: int, last: dict[str, Any]) -> str:
    """The `down` that was stopping the stack when its launcher (pid `pid`) was SIGKILLed:
    it must exit non-zero and say what was forced, unless the launcher had recorded a clean
    end first (`last`: last-run.json as the run left it)."""
    if answer.exit_code is None:
        return ""
    clean_end = bool(last) and not last.get("launcher_died") and int(last["exit_code"]) == 0
    if clean_end and all(s["graceful"] for s in last.get("stops", [])):
        return ""  # it was done stopping before the SIGKILL landed: 0 is the truth
    said = answer.output.lower()
    if answer.exit_code == 0 or not ("forced" in said or "killed" in said):
        return (
            f"`{answer.command}` whose launcher pid {pid} was SIGKILLed mid-stop exited "
            f"{answer.exit_code} and said {answer.why(3)!r}"
        )
    if last and not (last.get("launcher_died") or any(not s["graceful"] for s in last["stops"])):
        return f"last-run.json does not say launcher pid {pid} was killed mid-stop: {last}"
    return ""
