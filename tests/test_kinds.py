"""The kind registry: every built-in kind in one place, the README's table in step with it, the
handle fields each kind declares are the ones it yields, and broken third-party entry points
reported by name."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stackfixtures import _project as projects
from stackfixtures import kinds
from stackfixtures._define.options import model_of
from stackfixtures._define.service import Handle, ServiceDefinition
from stackfixtures.cli import main
from stackfixtures.errors import DefinitionError, ProfileError
from stackfixtures.kinds import registry

from . import readme
from .conftest import write_project


def readme_kind_rows() -> dict[str, list[str]]:
    """The "Built-in kinds" table of README.md: kind name -> the fields of its handle column."""
    rows: dict[str, list[str]] = {}
    for line in readme.section("## Built-in kinds").splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 3, line
        name = cells[0].strip("`")
        assert name not in rows, f"{name} has two rows"
        rows[name] = [f.strip() for f in cells[2].split(",")]
    return rows


def test_the_readme_kind_table_is_the_registry() -> None:
    rows = readme_kind_rows()
    assert sorted(rows) == kinds.builtin_names()
    for name, fields in rows.items():
        kind = kinds.get(name)
        assert kind is not None
        assert fields == list(kind.handle), f"README row {name!r}: handle column"


def test_every_builtin_kind_describes_itself() -> None:
    claimed: dict[str, str] = {}
    for name in kinds.builtin_names():
        kind = kinds.get(name)
        assert kind is not None and kind.name == name
        assert isinstance(kind.service, ServiceDefinition)
        assert kind.summary and kind.handle
        assert kind.options is model_of(kind.service.config_model)  # (the class, or its name)
        assert kind.options is None or isinstance(kind.options, type)
        for scheme in kind.schemes:
            assert scheme not in claimed, f"{scheme} claimed by {claimed.get(scheme)} and {name}"
            claimed[scheme] = name
        if kind.per_test is not None:
            assert kinds.get(kind.per_test) is not None
    assert claimed == {
        "postgresql": "postgres",
        "postgres": "postgres",
        "redis": "redis",
        "nats": "nats",
        "kafka": "kafka",
    }
    for scheme, name in claimed.items():
        found = kinds.for_scheme(scheme.upper())
        assert found is not None and found.name == name
    assert kinds.for_scheme("http") is None


@pytest.mark.slow
def test_importing_the_registry_imports_no_kind() -> None:
    code = (
        "import sys, stackfixtures.kinds\n"
        "print(sorted(m for m in sys.modules if m.startswith('stackfixtures.kinds.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['stackfixtures.kinds.base', 'stackfixtures.kinds.registry']"


def test_client_env_follows_the_clients_conventions() -> None:
    pg = kinds.get("postgres")
    assert pg is not None and pg.client_env is not None
    handle = Handle(host="h", port=5, user="u", dbname="d", dsn="postgresql://u@h:5/d")
    assert pg.client_env(handle) == {
        "DATABASE_URL": "postgresql://u@h:5/d",
        "PGHOST": "h",
        "PGPORT": "5",
        "PGUSER": "u",
        "PGDATABASE": "d",
    }
    external = Handle(**{**handle.as_dict(), "password": "secret"})
    assert pg.client_env(external)["PGPASSWORD"] == "secret"
    envs = {}
    for name in ("redis", "nats", "kafka"):
        kind = kinds.get(name)
        assert kind is not None and kind.client_env is not None
        envs[name] = kind.client_env(Handle(url="x://", bootstrap_servers="h:1"))
    assert envs == {
        "redis": {"REDIS_URL": "x://"},
        "nats": {"NATS_URL": "x://"},
        "kafka": {"KAFKA_BOOTSTRAP_SERVERS": "h:1"},
    }


STACK = """
[services.web]
command = ["{PY}", "-m", "http.server", "${port}", "--bind", "127.0.0.1"]
ready = { http = "http://127.0.0.1:${port}/" }
[services.pg]
kind = "postgres"
source = "wheel"
[services.pg_db]
kind = "postgres_db"
inject = { postgres = "pg" }
[services.cache]
kind = "redis"
[services.cache_db]
kind = "redis_db"
inject = { redis = "cache" }
[services.bus]
kind = "nats"
[services.bus_prefix]
kind = "nats_prefix"
inject = { nats = "bus" }
"""


@pytest.mark.slow
async def test_handles_have_exactly_the_declared_fields(tmp_path: Path, make_stack: Any) -> None:
    stack = await make_stack(tmp_path, STACK)
    handles = await stack.start()
    kind_of = {name: stack.graph[name].kind for name in handles}
    for name, handle in handles.items():
        kind = kinds.get(kind_of[name])
        assert kind is not None
        assert sorted(handle.as_dict()) == sorted(kind.handle), name
    user = await make_stack(
        tmp_path / "user", f'[services.db]\nkind = "external"\nurl = "{handles["pg"].dsn}"\n'
    )
    external = (await user.start())["db"]
    declared = kinds.get("external")
    assert declared is not None and set(declared.handle) <= set(external.as_dict())


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """Entry points the registry sees in place of the installed ones (append to it)."""
    eps: list[EntryPoint] = []
    monkeypatch.setattr(registry, "_entry_points", lambda: list(eps))
    return eps


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=registry.GROUP)


def test_a_broken_entry_point_is_named(entry_points: list[EntryPoint], tmp_path: Path) -> None:
    entry_points.append(ep("broken", "stackfixtures_no_such_module:KIND"))
    assert "broken" in kinds.names()  # listed without importing it
    with pytest.raises(DefinitionError) as info:
        kinds.get("broken")
    message = str(info.value)
    assert "entry point 'broken'" in message and "stackfixtures_no_such_module" in message
    assert "ModuleNotFoundError" in message
    path = write_project(tmp_path, '[services.a]\nkind = "broken"\n')
    with pytest.raises(ProfileError) as perr:
        projects.load("dev", root=tmp_path)
    assert perr.value.file == str(path) and perr.value.key == "services.a.kind"
    assert "entry point 'broken'" in perr.value.problem
    result = CliRunner().invoke(main, ["kinds"])
    assert result.exit_code == 2
    assert "error: kind 'broken': cannot load entry point 'broken'" in result.stderr
    assert "Traceback" not in result.output
    assert "postgres" in result.stdout  # the other kinds are still listed


def test_entry_points_that_name_the_wrong_thing(entry_points: list[EntryPoint]) -> None:
    entry_points.append(ep("odd", "os:sep"))
    entry_points.append(ep("renamed", "stackfixtures.kinds.redis:REDIS"))
    with pytest.raises(DefinitionError, match=r"'odd'.* names a str, not a stackfixtures"):
        kinds.get("odd")
    with pytest.raises(DefinitionError, match=r"names a Kind called 'redis'; the two must match"):
        kinds.get("renamed")


def test_a_bare_service_entry_point_is_a_minimal_kind(entry_points: list[EntryPoint]) -> None:
    entry_points.append(ep("plain", "stackfixtures.kinds.command:command"))
    entry_points.append(ep("postgres", "os:sep"))  # built-ins win
    plain = kinds.get("plain")
    assert plain is not None and plain.name == "plain" and plain.service.name == "command"
    assert plain.summary.startswith("Run `command`")
    postgres = kinds.get("postgres")
    assert postgres is not None and postgres.schemes == ("postgresql", "postgres")
    result = CliRunner().invoke(main, ["kinds", "--json"])
    assert result.exit_code == 0, result.output
    listed = {k["name"]: k for k in json.loads(result.stdout)["kinds"]}
    assert sorted(listed) == sorted({*kinds.builtin_names(), "plain"})
    assert listed["plain"]["builtin"] is False and listed["postgres"]["builtin"] is True
    assert listed["postgres"]["handle"][:3] == ["host", "port", "user"]
    assert listed["postgres"]["per_test"] == "postgres_db"
