"""A PostgreSQL cluster on disk: one initdb per (version, settings) kept in the cache and copied
for each new instance; as root, owned by (and run as) an unprivileged OS user."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import shutil
import uuid
from pathlib import Path

import psutil
from filelock import FileLock

from ...errors import KindUnavailable
from ...kind_api import OptionsView, ServiceContext, home_for, private_dir, run_once, user_tmp
from ..cache import cache_dir
from . import identity
from .binaries import server_version
from .placement import memory_home, place


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
    links to it. Directories whose state dir is gone are removed beside a running server
    (pruning.py).
    """
    root = homes_root()
    private_dir(root, mode=0o711)  # traversable by the server's user, writable by root alone
    return home_for(root, ctx.state_dir, mode=0o711)  # its owner record: `clean` removes it


def homes_root() -> Path:
    return Path(os.environ.get("STACKFIXTURES_PGDATA_ROOT", "/var/tmp/stackfixtures-postgres"))


def data_home(ctx: ServiceContext, cfg: OptionsView, run_as: str | None) -> Path | None:
    """The home the data dir lives in (linked from the state dir), or None for in place:
    in memory with `memory = true`, else as root in unprivileged_home."""
    if cfg.memory:
        return memory_home(ctx, shared=run_as is not None)
    return unprivileged_home(ctx) if run_as else None


def clear_stale_lock(ctx: ServiceContext, pgdata: Path, lock_file: Path) -> None:
    """Remove a lock file (`postmaster.pid`, or the socket's `.s.PGSQL.PORT.lock` in the
    service's own socket dir) left by a postmaster killed with SIGKILL. PostgreSQL refuses to
    start while the pid it names is a process its user may signal: a zombie not reaped yet,
    or the pid reused by another process of that user (a neighbour's backend). We hold the
    state dir's lock, so no postmaster of ours runs on this data dir; unless that pid is a
    live process whose command line names this data dir (then PostgreSQL says so), the file
    is stale."""
    try:
        pid = int(lock_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        p = psutil.Process(pid)
        if p.status() != psutil.STATUS_ZOMBIE and str(pgdata) in " ".join(p.cmdline()):
            return
    except psutil.Error:
        pass  # gone: stale
    lock_file.unlink(missing_ok=True)
    ctx.log.write(f"[stackfixtures] removed stale {lock_file} (pid {pid} is no postmaster of it)")


def _chown_tree(root: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for dirpath, _dirs, filenames in os.walk(root):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _initdb_args(cfg: OptionsView) -> list[str]:
    """initdb's arguments; with a password, SCRAM authentication (the password itself is
    passed in a file, see prepare_data_dir)."""
    return [
        "-U",
        cfg.user,
        "-A",
        "scram-sha-256" if cfg.password else "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
    ]


def _cache_key(version: str, postgres: Path, cfg: OptionsView) -> str:
    """One cached cluster per version, binary and initdb settings (and password)."""
    secret = hashlib.sha256((cfg.password or "").encode()).hexdigest()
    text = repr((version, str(postgres), _initdb_args(cfg), secret if cfg.password else None))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


SOCKET_PATH_MAX = 107 - len("/.s.PGSQL.65535")
"""A Unix socket's whole path must fit in sun_path (108 bytes on Linux)."""


def socket_dir(ctx: ServiceContext, run_as: str | None) -> Path:
    """The directory of the server's Unix socket, for `PGHOST=<dir>`: `socket/` in the state
    dir, or, where that path is too long for a socket or the server runs as another user who
    cannot enter the state dir, `socket/` in a home with a short path that `socket/` links to
    (removed with the state dir: the home names it as its owner)."""
    link = Path(os.path.abspath(ctx.state_dir / "socket"))
    if run_as is None and len(str(link)) <= SOCKET_PATH_MAX:
        if link.is_symlink():
            link.unlink()
        link.mkdir(mode=0o700, exist_ok=True)
        return link
    if run_as is not None:
        target = unprivileged_home(ctx) / "socket"
    else:
        target = home_for(user_tmp(), ctx.state_dir) / "socket"
    target.mkdir(mode=0o700, exist_ok=True)
    if run_as is not None:
        _chown_tree(target, run_as)
    if link.is_symlink() or not link.exists():
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    return target


async def prepare_data_dir(
    ctx: ServiceContext, cfg: OptionsView, postgres: Path, initdb: Path, run_as: str | None
) -> Path:
    """The instance's data dir: reused if it exists, else copied from the initdb cache."""
    pgdata = place(ctx, data_home(ctx, cfg, run_as))
    if (pgdata / "PG_VERSION").exists():
        identity.check(ctx, pgdata, cfg, _initdb_args(cfg))  # made with these settings?
        ctx.log.write(f"[stackfixtures] reusing data dir {pgdata}")
        clear_stale_lock(ctx, pgdata, pgdata / "postmaster.pid")
        return pgdata
    if pgdata.exists():
        shutil.rmtree(pgdata)
    version = await server_version(postgres)
    cached = cache_dir("postgres") / f"{version}-{_cache_key(version, postgres, cfg)}"
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
            args = _initdb_args(cfg)
            if cfg.password:  # the password goes in a file the server's user can read
                secret = building.parent / f".pw-{uuid.uuid4().hex[:8]}"
                secret.write_text(cfg.password + "\n")
                if run_as:
                    owner = pwd.getpwnam(run_as)
                    os.chown(secret, owner.pw_uid, owner.pw_gid)
                args.append(f"--pwfile={secret}")
            try:
                await run_once(
                    [str(initdb), "-D", str(building), *args],
                    ctx=ctx,
                    user=run_as,
                    cwd=building.parent,
                )
            finally:
                if cfg.password:
                    secret.unlink(missing_ok=True)
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
    identity.record(pgdata, cfg, _initdb_args(cfg))
    return pgdata
