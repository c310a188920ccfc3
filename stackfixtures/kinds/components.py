"""Components and their host: any application's parts, served all in one process or one
process each, with the same HTTP API either way.

A component has a name, `startup()`, `shutdown()`, optional routes (a FastAPI APIRouter under its
own prefix) and `health()`. The host starts components in order, stops them in reverse, and
serves their routes plus `/health` from one server.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from ..kind_api import Handle, OptionsView, ServiceContext, probes, service, spawn, stop
from .base import Kind, moved

log = logging.getLogger("stackfixtures.components")


@runtime_checkable
class Component(Protocol):
    """One part of an application."""

    name: str
    router: Any  # a fastapi.APIRouter with its own prefix, or None

    async def startup(self) -> None:
        """Connect, start background work. The host serves no request before all are started."""

    async def shutdown(self) -> None:
        """Stop taking work, finish or hand back what is in flight, close connections."""

    async def health(self) -> dict[str, Any]:
        """`{"status": "ok" | "fail", ...}`, with whatever detail helps (e.g. each dependency)."""


Factory = Callable[[Sequence[str]], Sequence[Component]]
"""`factory(names)` -> the components with those names, in start order."""


def build_app(components: Sequence[Component], title: str = "components") -> Any:
    """A FastAPI app serving every component's routes and an aggregate `/health`."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        started: list[Component] = []
        try:
            for c in components:
                await c.startup()
                started.append(c)
                log.info("component %s started", c.name)
            yield
        finally:
            for c in reversed(started):
                try:
                    await c.shutdown()
                    log.info("component %s stopped", c.name)
                except Exception:
                    log.exception("component %s failed to shut down cleanly", c.name)

    app = FastAPI(title=title, lifespan=lifespan)
    for c in components:
        if c.router is not None:
            app.include_router(c.router)

    @app.get("/health")
    async def health() -> Any:
        report = {c.name: await c.health() for c in components}
        ok = all(r.get("status") == "ok" for r in report.values())
        return JSONResponse(
            {"status": "ok" if ok else "fail", "components": report}, status_code=200 if ok else 503
        )

    return app


def host(
    factory: str,
    names: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
    grace: float = 10.0,
    python: str = sys.executable,
) -> spawn:
    """Spawn a process hosting the components `names` from `factory` ("module:function"),
    ready when its `/health` answers 200, stopped by SIGTERM (uvicorn's graceful shutdown)."""
    argv = [
        python,
        "-m",
        "stackfixtures.kinds.host",
        "--factory",
        factory,
        "--port",
        str(port) if port else "${port}",
        "--grace",
        str(grace),
    ]
    for n in names:
        argv += ["--component", n]
    url = f"http://127.0.0.1:{port}/health" if port else "/health"
    return spawn(
        argv,
        env=env,
        ready=probes.http(url, status=[200]),
        port=port,
        stop=stop("SIGTERM", grace=grace + 5),
    )


OPTIONS = "stackfixtures.kinds.components_options:ComponentsConfig"
"""Its options model (components_options.py), named: validation imports it, a start need not
(nor pydantic)."""
__getattr__ = moved(__name__, "stackfixtures.kinds.components_options", ("ComponentsConfig",))


@service(config=OPTIONS)
async def components(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """A process hosting components, declared in a profile:
    `kind = "components"`, `factory = "app:components"`, `components = ["api"]`."""
    cfg = OptionsView.of(ctx.definition)
    async with host(cfg.factory, cfg.components, grace=cfg.grace) as proc:
        yield Handle(
            host=ctx.host,
            port=proc.port,
            url=proc.url,
            pid=proc.pid,
            components=list(cfg.components),
        )


COMPONENTS = Kind(
    name="components",
    service=components,
    summary="a process hosting an application's components (startup, shutdown, routes, health)",
    handle=("host", "port", "url", "pid", "components"),
)
