"""external: an endpoint that is already running. Probed for readiness, never started or stopped.

Any kind can be switched to it in a profile (`external = "postgresql://..."` on a postgres
service, or `kind = "external"` with `url`), so tests can point at a server you already run.
The URL's scheme picks the kind that knows it (its default port, handle attributes and probe);
http, https and tcp are generic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from ..kind_api import Handle, OptionsView, ServiceContext, probes, service, wait_ready
from .base import Kind, moved
from .registry import for_scheme

GENERIC_PORTS = {"http": 80, "https": 443, "tcp": 0}
"""Schemes no kind owns: an HTTP endpoint (probed with GET) or a bare TCP port."""
OPTIONS = "stackfixtures.kinds.external_options:ExternalConfig"
"""Its options model (external_options.py), named: validation imports it, a start need not (the
service reads its options as plain data: OptionsView)."""

__getattr__ = moved(__name__, "stackfixtures.kinds.external_options", ("ExternalConfig",))


def _kind_of(scheme: str) -> Kind | None:
    """The kind that owns `scheme`; None for the generic ones."""
    return None if scheme in GENERIC_PORTS else for_scheme(scheme)


def handle_for(url: str) -> Handle:
    """Handle attributes from a URL: host, port, url, and what its kind reads from it (for
    databases user/dbname/dsn, for redis db, for kafka bootstrap_servers)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    kind = _kind_of(scheme)
    default = kind.default_port if kind is not None else GENERIC_PORTS.get(scheme)
    host = parts.hostname or "127.0.0.1"
    attrs = {"host": host, "port": parts.port or default or 0, "url": url, "external": True}
    if kind is not None and kind.external_attrs is not None:
        attrs.update(kind.external_attrs(parts))
    return Handle(**attrs)


def probe_for(handle: Handle) -> probes.Probe:
    """The readiness check that fits the URL: its kind's, GET for http(s), else a TCP connect."""
    scheme = urlsplit(handle.url).scheme.lower()
    if scheme in ("http", "https"):
        return probes.http(handle.url)
    kind = _kind_of(scheme)
    if kind is not None and kind.probe is not None:
        return kind.probe(handle)
    return probes.tcp(f"{handle.host}:{handle.port}")


@service(config=OPTIONS)
async def external(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """Use `url` as it is; wait until it answers; leave it running afterwards."""
    cfg = OptionsView.of(ctx.definition)
    url = ctx.render(cfg.url)  # `${db.port}`: a service of the stack it depends on
    handle = handle_for(url)
    if cfg.ready:
        probe = probe_for(handle)
        await wait_ready(probe, ctx, ctx.remaining())
        ctx.log.write(f"[stackfixtures] external {url}: {probe.describe()} passed")
    yield handle


EXTERNAL = Kind(
    name="external",
    service=external,
    summary="an endpoint that already runs: probed by its URL's kind, never started or stopped",
    handle=("host", "port", "url", "external"),  # and what the URL's kind reads from it
    handle_of=lambda d: tuple(handle_for(str(d.config.get("url", ""))).as_dict()),
)
