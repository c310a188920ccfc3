"""Homes: directories a service keeps outside its state dir (PostgreSQL's data as root, in a
directory its OS user may enter), linked from inside the state dir.

A home is made by the tool under a root of its own, named by a digest of the state dir that
owns it, and carries an owner record (`owner`: that state dir's path). Whatever removes a
state dir follows a link only to such a home, and only when the home names it as the owner;
every other link is removed as a link, its target untouched.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from . import private_files

OWNER = "owner"


def home_for(root: Path, state_dir: Path, mode: int = 0o700) -> Path:
    """The home under `root` of `state_dir` (made with `mode`, and its owner record): one per
    state dir, found again on the next start."""
    state = str(state_dir.resolve())
    home = root.resolve() / _digest(state)
    home.mkdir(mode=mode, exist_ok=True)
    record = home / OWNER  # 0600, only the tool reads it; written once, found at each start
    if record.is_symlink() or owner_of(home) != state:
        private_files.write(record, state)
    return home


def owner_of(home: Path) -> str | None:
    """The state dir a home names as its owner; None if it has no readable record."""
    try:
        return (home / OWNER).read_text()
    except OSError:
        return None


def made_home(home: Path, uid: int | None = None) -> str | None:
    """The state dir `home` names as its owner, if it is a home the tool made: a real
    directory, with a plain owner record, both belonging to `uid` (default: us), named for the
    state dir its record names. None for anything else (never followed through a link)."""
    try:
        info, record = home.lstat(), (home / OWNER).lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or not stat.S_ISREG(record.st_mode):
        return None
    mine = os.geteuid() if uid is None else uid
    if info.st_uid != mine or record.st_uid != mine:
        return None
    owner = owner_of(home)
    return owner if owner is not None and home.name == _digest(owner) else None


def linked_home(link: Path, state_dir: Path) -> Path | None:
    """The home the symlink `link` (inside `state_dir`) leads to, if the tool made both: the
    link's target is `HOME/NAME`, HOME a home the tool made (`made_home`) belonging to the
    link's owner, whose owner record names `state_dir` or a directory in it. None for any
    other link."""
    try:
        made = link.lstat()
        target = Path(os.readlink(link))
    except OSError:
        return None
    if not target.is_absolute() or str(target) != os.path.normpath(target):
        return None
    home = target.parent
    owner = made_home(home, made.st_uid)
    if owner is None:
        return None
    top = state_dir.resolve()
    return home if Path(owner) == top or top in Path(owner).parents else None


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()[:16]
