"""postgres with `source = "container"`: the official image's contract -- POSTGRES_USER,
POSTGRES_PASSWORD (else POSTGRES_HOST_AUTH_METHOD=trust, as the local server trusts), POSTGRES_DB,
initdb on its first start -- and the same handle as the local server's (no socket_dir, data_dir
or pid: they are the container's own). Its data lives in the container, fresh at each start."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from ...kind_api import Handle, OptionsView, ServiceContext, stop
from ..from_image import Server, in_thread, serving
from ..images import image_for, local_source, version_tag
from .binaries import VERSION_PATTERN, find_binaries, parse_version
from .connect import _psycopg, dsn, ensure_database, server_handle, sql_probe

IMAGE = "postgres"
FALLBACK_TAG = "18"  # no local server to match: the newest major this kind knows
INSIDE = 5432


def image_of(cfg: OptionsView) -> str:
    """The image that runs this server, when it runs from one and in `stack export`: `image`
    and `tag`, else the official image at the major version of the server the local source
    runs (`postgres:15` for 15.18), else FALLBACK_TAG. Blocking: asks the server its version."""

    def local_tag() -> str | None:
        server, _, _ = find_binaries(cfg.bin_dir, local_source(cfg.source))
        return version_tag(server, VERSION_PATTERN, 1)

    return image_for(IMAGE, local_tag, FALLBACK_TAG, image=cfg.image, tag=cfg.tag)


def _server(cfg: OptionsView, image: str, maintenance: str) -> Server:
    env = {"POSTGRES_USER": cfg.user, "POSTGRES_DB": cfg.dbname}
    if cfg.password:
        env["POSTGRES_PASSWORD"] = cfg.password  # then scram-sha-256 for host connections
    else:
        env["POSTGRES_HOST_AUTH_METHOD"] = "trust"
    command = ["postgres"]
    for key, value in cfg.settings.items():
        text = ("on" if value else "off") if isinstance(value, bool) else str(value)
        command += ["-c", f"{key}={text}"]
    # ready on SELECT 1 over TCP: the image's initdb-time server listens on no TCP port
    return Server(image, INSIDE, sql_probe(maintenance), stop("SIGINT", grace=30), command, env)


async def _version(maintenance: str) -> str:
    async with await _psycopg().AsyncConnection.connect(maintenance) as conn:
        row = await (await conn.execute("SHOW server_version")).fetchone()
    return parse_version(f"(PostgreSQL) {row[0]}") if row else ""


@contextlib.asynccontextmanager
async def from_image(ctx: ServiceContext, cfg: OptionsView) -> AsyncIterator[Handle]:
    """The server as a container until the block ends; its handle as the local server's."""
    image = await in_thread(lambda: image_of(cfg))
    host, port = "127.0.0.1", ctx.port  # (published there)
    maintenance = dsn(host, port, cfg.user, "postgres", cfg.password)
    async with serving(ctx, cfg, _server(cfg, image, maintenance)):
        await ensure_database(maintenance, cfg.dbname)
        yield server_handle(cfg, host, port, await _version(maintenance))
