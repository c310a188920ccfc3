"""postgres_template (a task): builds a postgres server's per-test template database -- its
schema file, then its `after` tasks run once more against it (template_tasks.py), then its
hook -- once those tasks completed on the server's own database, and again whenever the
template's identity changed.

The project adds one per postgres service with a `template` (named `<server>-template`, see
_project/templates.py), its config carrying the identity: a digest of each part (the `after`
tasks' fingerprints, the schema file's content, the hook's module). The template database keeps
that identity as its comment, so a start whose identity is the same keeps it, and one whose
identity differs rebuilds it, saying what changed. The server's handle is told the template's
name and `template_id` (a short hex of the identity): a clone made from another identity is
stale.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ForeignDatabase
from ...kind_api import (
    Handle,
    ServiceContext,
    ServiceDefinition,
    ServiceFunction,
    import_object,
    options_of,
    project_module,
    service,
)
from .connect import _psycopg, dsn
from .template_tasks import run_against, template_handle

if TYPE_CHECKING:
    from .options import TemplateBuild

MARK = "stackfixtures template"


def template_id(identity: str) -> str:
    """The short hex the server's handle carries."""
    return identity[:12]


def why_rebuilt(stored: dict[str, Any] | None, parts: dict[str, str]) -> str:
    """What changed since the template was built (`stored`: its recorded identity)."""
    if stored is None:
        return "first build"
    old = stored.get("parts") or {}
    if not isinstance(old, dict):
        return "built by another version"
    said = [f"{k} changed" for k, v in parts.items() if k in old and old[k] != v]
    said += [f"{k} added" for k in parts if k not in old]
    said += [f"{k} removed" for k in old if k not in parts]
    return ", ".join(said) or "built with other options"


async def _stored(conn: Any, name: str) -> dict[str, Any] | None:
    """The identity recorded on database `name` (None: no such database, or none recorded)."""
    row = await (
        await conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        )
    ).fetchone()
    if row is None or not row[0] or not str(row[0]).startswith(MARK + " "):
        return None
    try:
        data = json.loads(str(row[0])[len(MARK) + 1 :])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def _exists(conn: Any, name: str, server: str) -> bool:
    """Whether database `name` exists; ForeignDatabase when it does but a template build did
    not make it (its comment carries no MARK; a template database without any comment is one
    an older version built): only what the build made is ever replaced or dropped."""
    row = await (
        await conn.execute(
            "SELECT datistemplate, shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = %s",
            (name,),
        )
    ).fetchone()
    if row is None:
        return False
    template, comment = bool(row[0]), row[1]
    if (comment or "").startswith(MARK) or (template and comment is None):
        return True
    raise ForeignDatabase(
        f"database {name!r} on the server of {server} was not made by stackfixtures (it has no "
        "template mark): nothing was replaced or dropped; give `template.name` another name"
    )


async def _drop(conn: Any, name: str, server: str) -> None:
    if await _exists(conn, name, server):
        await conn.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE false')
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


_hooks_seen: dict[str, bytes] = {}
"""Hook module -> its source when this process last imported it for a template."""


def _source(module: Any) -> bytes:
    try:
        return Path(module.__file__).read_bytes()
    except (OSError, TypeError, AttributeError):
        return b""


def _inside(module: Any, root: Path) -> bool:
    """Whether `module` is the one of that name in the project at `root` (or the project has
    none of that name: then an installed one is meant)."""
    mine = project_module(module.__name__, root)
    where = getattr(module, "__file__", None)
    return mine is None or (where is not None and Path(where).resolve() == mine)


def _hook(ref: str, ctx: ServiceContext) -> Any:
    """The hook's function, from its module as it is now: one this process imported for a
    template before is read again when its file changed (a rebuild follows an edit)."""
    name = ref.partition(":")[0]
    module = sys.modules.get(name)
    if module is not None and not _inside(module, ctx.root):  # another project's, same name
        del sys.modules[name]
    elif module is not None and name in _hooks_seen and _source(module) != _hooks_seen[name]:
        # its source run again in its namespace: not importlib.reload, which takes the cached
        # bytecode when an edit kept the file's size within the same second
        exec(compile(_source(module), str(module.__file__), "exec"), vars(module))
    found = import_object(ref, ctx.root)
    _hooks_seen[name] = _source(sys.modules[name])
    return found


async def build(
    ctx: ServiceContext, server: Handle, cfg: TemplateBuild, tasks: Sequence[ServiceDefinition]
) -> None:
    """Make the template afresh, in this order: the schema file, the `after` tasks (run against
    it), the hook; built under another name, then put in place of the old one."""
    psycopg = _psycopg()
    spec = cfg.template
    building = f"{spec.name}_next"[:63]
    owner = cfg.server
    old = f"{spec.name}_old"[:63]
    async with await psycopg.AsyncConnection.connect(server.dsn, autocommit=True) as conn:
        for name in (spec.name, old):  # (refused before anything is built, if not ours)
            await _exists(conn, name, owner)
        await _drop(conn, building, owner)
        await conn.execute(f'CREATE DATABASE "{building}"')
        await conn.execute(f'COMMENT ON DATABASE "{building}" IS {_quote(MARK + " (building)")}')
    url = dsn(server.host, server.port, server.user, building, server.as_dict().get("password"))
    if spec.schema_file:
        sql = (ctx.root / spec.schema_file).read_text()
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(sql)
        ctx.log.write(f"[stackfixtures] template {spec.name}: applied {spec.schema_file}")
    for task in tasks:
        await run_against(ctx, task, cfg.server, template_handle(server, building, url))
    if spec.hook:
        result = _hook(spec.hook, ctx)(url)
        if inspect.isawaitable(result):
            await result
        ctx.log.write(f"[stackfixtures] template {spec.name}: ran {spec.hook}")
    record = MARK + " " + json.dumps({"identity": cfg.identity, "parts": cfg.parts})
    async with await psycopg.AsyncConnection.connect(server.dsn, autocommit=True) as conn:
        await conn.execute(f'ALTER DATABASE "{building}" IS_TEMPLATE true')
        await conn.execute(f'COMMENT ON DATABASE "{building}" IS {_quote(record)}')
        await _drop(conn, old, owner)
        async with conn.transaction():  # one swap: a clone made meanwhile finds one or the other
            if await _exists(conn, spec.name, owner):
                await conn.execute(f'ALTER DATABASE "{spec.name}" RENAME TO "{old}"')
            await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{spec.name}"')
        await _drop(conn, old, owner)


def _quote(text: str) -> str:
    """An SQL string literal (COMMENT takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


async def serve(
    postgres: Handle, ctx: ServiceContext, tasks: Sequence[ServiceDefinition]
) -> AsyncIterator[Handle]:
    """Build the server's template unless it has this identity already; tell the server's
    handle which template it has."""
    from .options import TemplateBuild  # (never started from a compiled profile)

    cfg = options_of(ctx.definition, TemplateBuild)
    name, tid = cfg.template.name, template_id(cfg.identity)
    if getattr(postgres, "external", False):  # a server not ours: nothing is built on it
        ctx.log.write(f"[stackfixtures] {cfg.server} is external: no template is built")
        yield Handle(server=cfg.server, template=None, template_id=None, rebuilt=False, reason="")
        return
    async with await _psycopg().AsyncConnection.connect(postgres.dsn, autocommit=True) as conn:
        stored = await _stored(conn, name)
    rebuilt = stored is None or stored.get("identity") != cfg.identity
    reason = why_rebuilt(stored, cfg.parts) if rebuilt else ""
    if rebuilt:
        ctx.log.write(f"[stackfixtures] building template {name} of {cfg.server}: {reason}")
        await build(ctx, postgres, cfg, tasks)
    else:
        ctx.log.write(f"[stackfixtures] template {name} of {cfg.server} is up to date ({tid})")
    vars(postgres).update(template=name, template_id=tid)  # what clones are made from now
    yield Handle(server=cfg.server, template=name, template_id=tid, rebuilt=rebuilt, reason=reason)


def builder(tasks: Sequence[ServiceDefinition]) -> ServiceFunction:
    """The builder's function for a template whose `after` tasks are `tasks` (in order)."""

    async def postgres_template(postgres: Handle, ctx: ServiceContext) -> AsyncIterator[Handle]:
        """Build the server's template (after its tasks, which run against it)."""
        async for handle in serve(postgres, ctx, tuple(tasks)):
            yield handle

    return postgres_template


postgres_template = service(task=True, config="stackfixtures.kinds.postgres.options:TemplateBuild")(
    builder(())
)
"""The kind's service: a template without `after` tasks (the project makes one per server)."""
