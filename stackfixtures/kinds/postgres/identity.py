"""The settings a PostgreSQL data dir was made with, recorded beside it (`identity.json`, 0600):
its superuser, whether it has a password (and a salted fingerprint of it, never the password)
and initdb's arguments. A start whose profile says otherwise is refused before the server is
started, saying what changed and how to rebuild the data dir: the old role and password live
in the cluster's catalog and pg_hba.conf, so a silent start would advertise a DATABASE_URL
that fails (or, with trust authentication, accepts any password).

`dbname` is not part of it: a database the cluster lacks is created at each start."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

from ...errors import StaleDataDir
from ...kind_api import OptionsView, ServiceContext, private_files

NAME = "identity.json"


def _fingerprint(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), 100_000).hex()


def _path(pgdata: Path) -> Path:
    return pgdata.with_name(NAME)


def record(pgdata: Path, cfg: OptionsView, initdb_args: list[str]) -> None:
    """Write down what the data dir at `pgdata` was just made with."""
    salt = secrets.token_hex(16)
    password = {"salt": salt, "pbkdf2": _fingerprint(cfg.password, salt)} if cfg.password else None
    data = {"user": cfg.user, "password": password, "initdb": initdb_args}
    private_files.write(_path(pgdata), json.dumps(data))


def _changes(data: dict[str, Any], cfg: OptionsView, initdb_args: list[str]) -> str:
    """What differs, in words ("" when nothing does)."""
    if data.get("user") != cfg.user:
        return f"made with user {data.get('user')!r} (now {cfg.user!r})"
    had = data.get("password")
    if had and not cfg.password:
        return "made with a password (now without)"
    if cfg.password and not had:
        return "made without a password (now with one)"
    if had and cfg.password:
        now = _fingerprint(cfg.password, str(had["salt"]))
        if not hmac.compare_digest(now, str(had["pbkdf2"])):
            return "made with another password"
    if data.get("initdb") != initdb_args:
        return f"made with initdb {data.get('initdb')} (now {initdb_args})"
    return ""


def _clean_command(ctx: ServiceContext) -> str:
    state = ctx.state_dir.parent.parent  # <state>/services/<name>
    if state.parent.name == ".stack":  # the default place of a profile's state
        return f"stack clean -p {state.name}"
    return f"stack clean --state-dir {state}"


def check(ctx: ServiceContext, pgdata: Path, cfg: OptionsView, initdb_args: list[str]) -> None:
    """Refuse a data dir made with other identity settings; record the identity of one made
    before identities were recorded (nothing to compare it with)."""
    try:
        data = json.loads(_path(pgdata).read_text())
        changed = _changes(data, cfg, initdb_args)
    except FileNotFoundError:
        record(pgdata, cfg, initdb_args)
        return
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        changed = f"made with settings that cannot be read back from {_path(pgdata)} ({e})"
    if changed:
        raise StaleDataDir(
            ctx.name, f"its data dir was {changed}; run `{_clean_command(ctx)}` to rebuild it"
        )
