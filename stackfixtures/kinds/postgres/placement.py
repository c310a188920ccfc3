"""Where a cluster's data dir lives: `pgdata/` in the service's state dir, or a home outside it
(engine.state_homes) that `pgdata` links to -- as root, a home the server's OS user may enter
(cluster.unprivileged_home); with `memory = true`, a home on a tmpfs (memory_root), for root and
non-root alike. A change of placement moves the data dir along (the cluster is kept)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import psutil

from ...kind_api import OWNER, ServiceContext, home_for, linked_home, made_home
from . import identity
from .memory_root import memory_root


def memory_home(ctx: ServiceContext, shared: bool) -> Path:
    """The service's home in memory (one per state dir, with its owner record: `stack clean`
    and `down --volumes` remove it); homes whose state dir is gone are removed first."""
    root = memory_root(shared)
    prune(root, keep=str(ctx.state_dir.resolve()))
    return home_for(root, ctx.state_dir, mode=0o711 if shared else 0o700)


def prune(root: Path, keep: str, halt: threading.Event | None = None) -> None:
    """Remove the homes under `root` the tool made (`made_home`: nothing else found there,
    whatever `root` was set to) whose owner state dir is gone (its server not running); when
    `halt` is set, stop at the next home (the next start goes on where it stopped)."""
    try:
        homes = list(root.iterdir())
    except OSError:  # (no root yet: nothing to prune)
        return
    for home in homes:
        if halt is not None and halt.is_set():
            return
        owner = made_home(home)
        if owner is None:
            continue
        try:
            pid = int((home / "pgdata" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        running = pid > 0 and psutil.pid_exists(pid)
        if owner != keep and not Path(owner).exists() and not running:
            shutil.rmtree(home, ignore_errors=True)


def place(ctx: ServiceContext, home: Path | None) -> Path:
    """Make `pgdata` in the service's data dir lead to the data dir in `home` (a link to
    HOME/pgdata), or be the data dir itself when `home` is None; a data dir found at the other
    place (a link the tool made to a home of this state dir, or a directory in place) is moved
    there; one in `home` that no link leads to (the state dir was removed and made anew) is
    another stack's, and discarded. The data dir's path, resolved (it may not exist yet)."""
    link = ctx.data_dir / "pgdata"
    target = home / "pgdata" if home is not None else link
    if link.is_symlink():
        if home is not None and Path(os.readlink(link)) == target:
            return target
        old = linked_home(link, ctx.state_dir)  # None: not a link of ours, nothing followed
        link.unlink()
        if old is not None:
            _move(old / "pgdata", target)
            if {p.name for p in old.iterdir()} <= {OWNER}:  # nothing else kept there
                shutil.rmtree(old)
    elif home is not None and link.exists():
        _move(link, target)  # a cluster kept in place before
    elif home is not None and target.exists():  # no link to it: its state dir was removed
        _discard(target)  # (without `stack clean`) and made anew at the same path
    if home is not None:
        link.symlink_to(target)
    return target


def _discard(data: Path) -> None:
    """A data dir in a home whose state dir was made anew: another stack's data, not this
    one's (the home is ours: made under our root, named for this path)."""
    shutil.rmtree(data)
    data.with_name(identity.NAME).unlink(missing_ok=True)


def _move(source: Path, target: Path) -> None:
    """Move a data dir and the record of its identity beside it; when one is at `target`
    already, it is kept and `source` dropped."""
    if not source.exists():
        return
    record = source.with_name(identity.NAME)
    if target.exists():
        shutil.rmtree(source)
        record.unlink(missing_ok=True)
        return
    if record.is_file() and not record.is_symlink():
        shutil.move(str(record), str(target.with_name(identity.NAME)))
    owner = source.stat()
    shutil.move(str(source), str(target))  # across filesystems a copy, owned by us
    if os.geteuid() == 0 and owner.st_uid != 0:  # the server's OS user owns it again
        for dirpath, _dirs, files in os.walk(target):
            os.chown(dirpath, owner.st_uid, owner.st_gid)
            for name in files:
                path = os.path.join(dirpath, name)
                os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
