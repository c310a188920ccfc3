"""Running a template's `after` tasks against the template database itself: the task's own
code (a command, a Python @service), with its server's handle pointing at the template (so
`${db.dsn}` is the template's dsn), its output in the builder's log and its processes in the
stack's ledger. The migrations thus run once per template build, on a fresh database, however
they are written (`CREATE TABLE IF NOT EXISTS` included)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from ...kind_api import Handle, ServiceContext, ServiceDefinition, set_current, state_subdir

_DONE = object()


def _next(gen: Any) -> Any:
    try:
        return next(gen)
    except StopIteration:
        return _DONE


async def _drive(task: ServiceDefinition, gen: Any) -> None:
    """Run the task's generator to its yield (its work), then through its teardown."""
    if task.is_async:
        await gen.__anext__()
        try:
            await gen.__anext__()
        except StopAsyncIteration:
            return
    else:
        await asyncio.to_thread(_next, gen)
        if await asyncio.to_thread(_next, gen) is _DONE:
            return
    raise RuntimeError(f"task {task.name!r} yielded more than once")


def template_handle(server: Handle, dbname: str, url: str) -> Handle:
    """The server's handle, but for database `dbname`."""
    return Handle(**{**server.as_dict(), "dbname": dbname, "dsn": url, "url": url})


async def run_against(
    ctx: ServiceContext, task: ServiceDefinition, server: str, template: Handle
) -> None:
    """Run `task` with `template` as the handle of service `server` (its other dependencies'
    handles are the builder's: it depends on them too). What it starts, it stops itself
    (run_once and spawn do), as under the engine."""
    deps = {d: template if d == server else ctx.deps[d] for d in task.dependencies}
    sub = dataclasses.replace(
        ctx,
        definition=task,
        deps=deps,
        state_dir=state_subdir(ctx.state_dir / "tasks" / task.name),
        processes=[],
        stop_records=[],
        crashed=asyncio.Event(),
        crash=None,
        waiting_for="",
        last_probe_error="",
        _port=None,
    )
    kwargs: dict[str, Any] = {p: deps[task.provider(p)] for p in task.params}
    if task.wants_ctx:
        kwargs["ctx"] = sub
    ctx.log.write(f"[stackfixtures] template: running task {task.name} against {template.dbname}")
    token = set_current(sub)
    try:
        await run_task(task, task.function(**kwargs), ctx.log.write)
    finally:
        token.var.reset(token)


async def run_task(task: ServiceDefinition, gen: Any, log: Callable[[str], None]) -> None:
    """Drive `gen` (the task's generator) through its work and teardown. A cancellation is
    never replaced: a sync task's generator still running in its thread is not closed (it
    cannot be), the thread is left to finish and the log says so."""
    try:
        await _drive(task, gen)
    finally:  # (already finished, unless it failed or was cancelled: then its teardown runs)
        if task.is_async:
            await gen.aclose()
        elif gen.gi_running:
            log(
                f"[stackfixtures] template: task {task.name} was interrupted while its code ran "
                "in a thread: that thread is left to finish (its teardown does not run)"
            )
        else:
            await asyncio.to_thread(gen.close)
