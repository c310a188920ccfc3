"""The warm start (_project/compiled.py): a validated profile is compiled, a start whose inputs
did not change builds its project from the compiled form (no schema, no checks, only the kinds
it runs), and any change, or a cache file that cannot be trusted, takes the full path, whose
errors are `stack validate`'s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run_stack

pytestmark = pytest.mark.slow  # runs loads in fresh interpreters (tests/spawns.py)

BASE = '[services.db]\nkind = "postgres"\n\n[services.cache]\nkind = "redis"\n'
DEV = (
    '[stack]\nextends = "base"\n\n[services.api]\ncommand = ["python3", "-c", "pass"]\n'
    'depends_on = ["db", "cache"]\nenv = { DB = "${db.dsn}" }\n'
)
LOAD = """
import json, os, sys
from pathlib import Path
from stackfixtures._project import load, programs
from stackfixtures.errors import DefinitionError
try:
    p = load(os.environ.get("PROFILE", "dev"), root=Path("."), cache=True)
    print(json.dumps({"names": p.graph.names, "state_dir": str(p.state_dir)}))
    programs.check(p, p.selected)  # (what a launcher checks before anything starts)
except DefinitionError as e:
    print(json.dumps({"error": str(e)}))
"""
NEVER_ON_A_HIT = (
    "pydantic",
    "stackfixtures._config.schema",
    "yaml",
    "stackfixtures._config.load",
    "stackfixtures._config.read",
    "stackfixtures._project.checks",
    "stackfixtures._project.apply_profile",
    "stackfixtures._project.templates",
    "stackfixtures.kinds.nats",
    "stackfixtures.kinds.kafka",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "profiles").mkdir(parents=True)
    (root / "profiles" / "base.toml").write_text(BASE)
    (root / "profiles" / "dev.toml").write_text(DEV)
    return root


def env_of(root: Path, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "STACKFIXTURES_CACHE": str(root.parent / "cache"),
        "STACKFIXTURES_TRACE_LOAD": str(root.parent / "trace.jsonl"),
        **more,
    }


def load(
    root: Path, script: str = LOAD, **more: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A start's load in a fresh interpreter (`script`, printing a JSON line last): what it
    gave, and the path it took (None when it failed before it could say)."""
    trace = root.parent / "trace.jsonl"
    trace.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env=env_of(root, **more),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    took = json.loads(trace.read_text()) if trace.exists() else None
    return json.loads(done.stdout.splitlines()[-1]), took


def cache_files(root: Path) -> list[Path]:
    return sorted((root.parent / "cache" / "profiles").glob("*.json"))


def test_a_second_start_is_a_hit_without_the_schema_or_checks(project: Path) -> None:
    first, took = load(project)
    assert took is not None and took["path"] == "miss" and took["stored"] is True
    assert "stackfixtures._project.checks" in took["modules"]  # (what the hit must skip)
    [stored] = cache_files(project)
    assert stored.stat().st_mode & 0o777 == 0o600
    assert stored.parent.stat().st_mode & 0o777 == 0o700
    again, took = load(project)
    assert took is not None and took["path"] == "hit"
    assert again == first
    imported = set(took["modules"])
    assert not imported & set(NEVER_ON_A_HIT)
    assert {"stackfixtures.kinds.command", "stackfixtures.kinds.redis"} <= imported


@pytest.mark.parametrize("changed", ["profile", "parent"])
def test_a_changed_file_is_a_miss_and_its_mistake_is_validates(project: Path, changed: str) -> None:
    load(project)
    assert load(project)[1]["path"] == "hit"  # type: ignore[index]
    name = "dev" if changed == "profile" else "base"
    path = project / "profiles" / f"{name}.toml"
    path.write_text(path.read_text() + "\n# an edit\n")
    _, took = load(project)
    assert took is not None and took["path"] == "miss"
    path.write_text(path.read_text().replace('kind = "redis"', 'kind = "redis"\ndatabases = "x"'))
    if changed == "profile":
        path.write_text(path.read_text() + '\n[services.cache]\ndatabases = "x"\n')
    said, took = load(project)
    assert took is None  # failed on the full path
    validate = run_stack(["validate", "-p", "dev"], project, env=env_of(project))
    assert validate.returncode == 2
    assert "databases: wrong type" in said["error"]
    assert f"error: {said['error']}" in validate.stderr


def test_a_new_conftest_or_another_kind_package_is_a_miss(project: Path, tmp_path: Path) -> None:
    load(project)
    dist = tmp_path / "site" / "extra_kind-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-kind\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[stackfixtures.kinds]\nextra = extra_kind:KIND\n")
    site = {"PYTHONPATH": str(tmp_path / "site")}
    assert load(project, **site)[1]["path"] == "miss"  # type: ignore[index]
    assert load(project, **site)[1]["path"] == "hit"  # type: ignore[index]
    dist.rename(dist.with_name("extra_kind-1.1.dist-info"))  # (as an upgrade renames it)
    assert load(project, **site)[1]["path"] == "miss"  # type: ignore[index]
    (project / "conftest.py").write_text("")  # now the full path imports it: a miss
    _, took = load(project, **site)
    assert took is not None and took["path"] == "miss" and took["stored"] is True
    assert load(project, **site)[1]["path"] == "hit"  # type: ignore[index]
    (project / "conftest.py").write_text("X = 1\n")  # (its content is part of the key)
    assert load(project, **site)[1]["path"] == "miss"  # type: ignore[index]


def test_compose_includes_are_never_compiled(project: Path) -> None:
    dev = project / "profiles" / "dev.toml"
    (project / "profiles" / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n")
    dev.write_text(DEV.replace("[stack]\n", '[stack]\ninclude = ["compose.yaml"]\n'))
    assert load(project)[1]["stored"] is False  # type: ignore[index]
    assert load(project, STACKFIXTURES_PROFILE_CACHE="0")[1]["path"] == "miss"  # type: ignore[index]
    dev.write_text(DEV)
    assert load(project, STACKFIXTURES_PROFILE_CACHE="0")[1]["stored"] is False  # type: ignore[index]


@pytest.mark.parametrize("spoil", ["corrupt", "key", "content", "foreign_mode", "symlink"])
def test_a_cache_file_that_cannot_be_trusted_is_a_miss(project: Path, spoil: str) -> None:
    load(project)
    [stored] = cache_files(project)
    if spoil == "corrupt":
        stored.write_text(stored.read_text()[:100])
    elif spoil == "key":
        data = json.loads(stored.read_text())
        data["key"] = "0" * 64
        stored.write_text(json.dumps(data))
    elif spoil == "content":  # (its key, but what this code cannot read)
        data = json.loads(stored.read_text())
        data["definitions"]["api"]["no_such_field"] = 1
        stored.write_text(json.dumps(data))
    elif spoil == "foreign_mode":
        stored.chmod(0o644)
    else:
        real = stored.with_name("elsewhere.json")
        stored.rename(real)
        stored.symlink_to(real)
    again, took = load(project)
    assert took is not None and took["path"] == "miss"
    assert again["names"] == ["db", "cache", "api"]
    assert not stored.is_symlink()  # (a link is replaced, never followed)
    assert load(project)[1]["path"] == "hit"  # type: ignore[index]  # (rewritten whole)


def test_a_profile_of_commands_starts_without_pydantic(project: Path) -> None:
    """The command kind reads its options as plain data: a hit imports no pydantic at all."""
    (project / "profiles" / "plain.toml").write_text(
        '[services.a]\ncommand = "python3 -c pass"\nready = { log = "x", timeout = 5 }\n\n'
        '[services.b]\ncommand = ["python3", "-c", "pass"]\ndepends_on = ["a"]\n'
    )
    first, took = load(project, PROFILE="plain")
    assert took is not None and took["path"] == "miss" and "pydantic" in took["modules"]
    again, took = load(project, PROFILE="plain")
    assert took is not None and took["path"] == "hit" and again == first
    assert not {m for m in took["modules"] if m.startswith("pydantic")}
    assert "stackfixtures._config.schema" not in took["modules"]


VIEWS = """
import json, sys
from pathlib import Path
from stackfixtures import kinds
from stackfixtures._project import load
from stackfixtures.kind_api import OptionsView
p = load("data", root=Path("."), cache=True)
seen = {}
for name, d in p.graph.definitions.items():  # (what each kind's service reads first)
    seen[name] = [dict(OptionsView.of(d)), list(kinds.get(d.kind).handle_fields(d))]
found = sorted(m for m in sys.modules if "pydantic" in m)
print(json.dumps({"seen": seen, "pydantic": found}, default=dict))  # (a nested view: a table)
"""


def test_a_hit_of_the_data_kinds_reads_their_options_without_pydantic(project: Path) -> None:
    """postgres, redis and nats read their options as plain data (OptionsView), as the command
    kind does: a hit, its options read as the kinds read them, imports no pydantic, and they
    are the full path's."""
    (project / "profiles" / "data.toml").write_text(
        '[stack]\nextends = "dev"\n\n[services.db]\nsettings = { fsync = false }\n'
        'user = "app"\n\n[services.bus]\nkind = "nats"\nmqtt = true\nargs = ["-D"]\n'
    )

    def views() -> tuple[dict[str, Any], dict[str, Any] | None]:
        (project.parent / "trace.jsonl").unlink(missing_ok=True)
        done = subprocess.run(
            [sys.executable, "-c", VIEWS],
            cwd=project,
            env=env_of(project),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        took = json.loads((project.parent / "trace.jsonl").read_text())
        return json.loads(done.stdout), took

    full, took = views()
    assert took is not None and took["path"] == "miss" and full["pydantic"]
    again, took = views()
    assert took is not None and took["path"] == "hit"
    assert again["pydantic"] == [] and "stackfixtures._config.schema" not in took["modules"]
    assert again["seen"] == full["seen"]
    db, bus = again["seen"]["db"], again["seen"]["bus"]
    assert db[0]["settings"] == {"fsync": False} and db[0]["user"] == "app"
    assert bus[0]["args"] == ["-D"] and "mqtt_url" in bus[1]


def test_a_program_missing_at_a_hit_is_said_where_the_full_path_says_it(project: Path) -> None:
    (project / "profiles" / "plain.toml").write_text(
        '[services.a]\ncommand = "no-such-program-here --flag"\n\n'
        '[services.b]\ncommand = ["python3", "-c", "pass"]\nready = { exec = ["nor-this-one"] }\n'
    )
    full, took = load(project, PROFILE="plain", STACKFIXTURES_PROFILE_CACHE="0")
    assert took is not None and took["path"] == "miss"
    load(project, PROFILE="plain")
    said, took = load(project, PROFILE="plain")
    assert took is not None and took["path"] == "hit"
    assert said == full and "plain.toml:2:" in said["error"] and "nor-this-one" in said["error"]
