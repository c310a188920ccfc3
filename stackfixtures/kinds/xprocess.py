"""xprocess: run a pytest-xprocess `ProcessStarter` as a service, with this engine.

The starter is *read*, not run by xprocess: its `args`, `env`, `popen_kwargs` (cwd), `timeout`,
`pattern` (searched in the first `max_read_lines` lines of output) and `startup_check()`
become a spawn with a readiness probe. Process groups, graceful stop, logs, restarts and
xdist sharing then come from stackfixtures. What a starter cannot say (dependencies, stop
signal and grace, restart policy) comes from the profile, as for any service.

    [services.cache]
    kind = "xprocess"
    starter = "tests.helpers:RedisStarter"
    depends_on = ["db"]
    stop = { signal = "SIGINT", grace = 5 }

or, in Python: `cache = from_starter(RedisStarter, name="cache")`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import StartupCrashed
from ..kind_api import (
    Handle,
    OptionsView,
    ServiceContext,
    ServiceDefinition,
    import_object,
    probes,
    service,
    spawn,
)
from .base import Kind, moved

OPTIONS = "stackfixtures.kinds.xprocess_options:XprocessConfig"
"""Its options model (xprocess_options.py), named: validation imports it, a start need not (the
service reads its options as plain data: OptionsView)."""

__getattr__ = moved(__name__, "stackfixtures.kinds.xprocess_options", ("XprocessConfig",))


def _declared(starter_cls: type, name: str) -> bool:
    """Whether the class itself (not xprocess's base) defines `name`."""
    for klass in starter_cls.__mro__:
        if klass.__module__.startswith("xprocess"):
            return False
        if name in vars(klass):
            return True
    return False


class _Process:
    """Stands in for the XProcess object a starter receives (only for attribute access)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.rootdir = ctx.state_dir


def instantiate(starter_cls: type, ctx: ServiceContext) -> Any:
    try:
        return starter_cls(ctx.state_dir, _Process(ctx))
    except TypeError:
        return starter_cls()


def probe_for(starter: Any, starter_cls: type, service_name: str) -> Any:
    """The starter's readiness: its pattern in the first lines, then its startup_check()."""
    checks: list[Any] = []
    pattern = starter.pattern
    if pattern:
        regex = re.compile(pattern)
        limit = int(getattr(starter, "max_read_lines", 50) or 50)

        async def matched(ctx: ServiceContext) -> bool:
            lines = [
                line for line in ctx.log.tail(limit + 1) if not line.startswith("[stackfixtures]")
            ][:limit]
            if any(regex.search(line) for line in lines):
                return True
            raise LookupError(f"/{pattern}/ not in the first {limit} lines yet")

        checks.append(probes.call(matched, name=f"xprocess pattern /{pattern}/"))
    if _declared(starter_cls, "startup_check"):

        async def responsive(ctx: ServiceContext) -> bool:
            return bool(await asyncio.to_thread(starter.startup_check))

        checks.append(probes.call(responsive, name=f"{starter_cls.__name__}.startup_check()"))
    if not checks:
        raise StartupCrashed(
            service_name,
            "starting",
            f"{starter_cls.__name__} has neither a "
            "pattern nor a startup_check(), so nothing tells when it is ready",
        )
    return checks[0] if len(checks) == 1 else probes.all_(*checks)


async def run_starter(starter_cls: type, ctx: ServiceContext) -> AsyncIterator[Handle]:
    starter = instantiate(starter_cls, ctx)
    argv = [str(a) for a in starter.args]
    env: Mapping[str, str] = {str(k): str(v) for k, v in (starter.env or {}).items()}
    popen = dict(getattr(starter, "popen_kwargs", {}) or {})
    cwd = popen.get("cwd")
    timeout = float(getattr(starter, "timeout", 120) or 120)
    async with spawn(
        argv,
        env=env,
        cwd=Path(cwd) if cwd else None,
        ready=probe_for(starter, starter_cls, ctx.name),
        timeout=timeout,
    ) as proc:
        attrs: dict[str, Any] = {"pid": proc.pid, "starter": starter_cls.__name__}
        for name in ("host", "port", "url"):
            value = getattr(starter, name, None)
            if value is not None and not callable(value):
                attrs[name] = value
        yield Handle(**attrs)


@service(config=OPTIONS)
async def xprocess(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """A pytest-xprocess starter, run by the engine (see the module doc)."""
    cfg = OptionsView.of(ctx.definition)
    starter_cls = import_object(cfg.starter, ctx.root)
    async for handle in run_starter(starter_cls, ctx):
        yield handle


def from_starter(
    starter_cls: type,
    *,
    name: str,
    depends_on: tuple[str, ...] = (),
    scope: str = "session",
    **options: Any,
) -> ServiceDefinition:
    """`redis = from_starter(RedisStarter, name="redis")`: the one-line migration."""

    async def run(ctx: ServiceContext) -> AsyncIterator[Handle]:
        async for handle in run_starter(starter_cls, ctx):
            yield handle

    run.__name__ = name
    definition = service(name=name, scope=scope, depends_on=list(depends_on), **options)(run)
    return definition.evolve(
        kind="xprocess", source=f"{starter_cls.__module__}:{starter_cls.__qualname__}"
    )


XPROCESS = Kind(
    name="xprocess",
    service=xprocess,
    summary="a pytest-xprocess ProcessStarter, read and run by this engine",
    handle=("pid", "starter", "host", "port", "url"),  # host, port, url: when the starter has them
)
