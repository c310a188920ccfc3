"""external: an endpoint that is already running. Probed for readiness, never started or stopped.

Any kind can be switched to it in a profile (`external = "postgresql://..."` on a postgres
service, or `kind = "external"` with `url`), so tests can point at a server you already run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict

from ..define.service import Handle, service
from ..engine import probes
from ..engine.context import ServiceContext
from ..engine.probes import wait_ready

DEFAULT_PORTS = {
    "postgresql": 5432,
    "postgres": 5432,
    "redis": 6379,
    "nats": 4222,
    "http": 80,
    "https": 443,
    "kafka": 9092,
}


class ExternalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    ready: bool = True  # probe it before dependents start


def handle_for(url: str) -> Handle:
    """Handle attributes from a URL: host, port, url, and for databases user/dbname/dsn."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or "127.0.0.1"
    port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    attrs: dict[str, Any] = {"host": host, "port": port, "url": url, "external": True}
    if scheme in ("postgresql", "postgres"):
        attrs.update(
            user=unquote(parts.username or "postgres"),
            dbname=parts.path.lstrip("/") or "postgres",
            dsn=url,
            template=None,
        )
    elif scheme == "redis":
        attrs.update(db=int(parts.path.lstrip("/") or 0), databases=16)
    elif scheme == "kafka":
        attrs.update(bootstrap_servers=f"{host}:{port}")
    return Handle(**attrs)


def probe_for(handle: Handle) -> Any:
    """The readiness check that fits the URL's scheme."""
    scheme = urlsplit(handle.url).scheme.lower()
    if scheme in ("postgresql", "postgres"):
        from .postgres import sql_probe

        return sql_probe(handle.url)
    if scheme == "redis":
        from .redis import ping_probe

        return ping_probe(handle.host, handle.port)
    if scheme == "nats":
        from .nats import info_probe

        return info_probe(handle.host, handle.port, jetstream=False)
    if scheme in ("http", "https"):
        return probes.http(handle.url)
    if scheme == "kafka":
        from .kafka import metadata_probe

        return metadata_probe(handle.host, handle.port)
    return probes.tcp(f"{handle.host}:{handle.port}")


@service(config=ExternalConfig)
async def external(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """Use `url` as it is; wait until it answers; leave it running afterwards."""
    cfg = ExternalConfig.model_validate(ctx.config)
    handle = handle_for(cfg.url)
    if cfg.ready:
        probe = probe_for(handle)
        await wait_ready(probe, ctx, ctx.remaining())
        ctx.log.write(f"[stackfixtures] external {cfg.url}: {probe.describe()} passed")
    yield handle
