"""The warm start of the kafka, xprocess, container, external and components kinds: like the
command and data kinds, their services read their options as plain data (OptionsView), so a
profile using them is compiled and its hit imports no pydantic, no options model and no schema;
the options a hit gives them are the full path's (relative host paths anchored where the
profile is written), and a service started from a hit really runs (`stack up` of an xprocess
starter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stackfixtures._launcher import first_spawn
from tests.cli_helpers import run_stack
from tests.conftest import write_project
from tests.test_profile_cache import load as cached_load
from tests.test_xprocess import STARTERS

pytestmark = pytest.mark.slow  # runs loads in fresh interpreters, starts a stack (spawns.py)

PROFILE = """
[services.events]
kind = "kafka"
home = "/opt/no-kafka-here"
heap = "256M"
settings = { "num.partitions" = 3, "auto.create.topics.enable" = false }

[services.worker]
kind = "xprocess"
starter = "helpers:Starter"

[services.web]
kind = "container"
build = { context = "web", args = { V = "1" } }
command = "httpd -f -p 80"
ports = { "80" = "${port}" }
volumes = ["./site:/www:ro", "data:/var/data"]
healthcheck = { test = ["CMD", "true"], interval = 0.5 }
ready = { http = "http://127.0.0.1:${port}/", timeout = 20 }

[services.legacy]
kind = "external"
url = "redis://127.0.0.1:6390/3"
ready = false

[services.parts]
kind = "components"
factory = "app:components"
components = ["api", "jobs"]
"""
OPTIONS_MODELS = (
    "stackfixtures.kinds.kafka_options",
    "stackfixtures.kinds.xprocess_options",
    "stackfixtures.kinds.container.options",
    "stackfixtures.kinds.external_options",
    "stackfixtures.kinds.components_options",
    "stackfixtures.kinds.command_options",
    "stackfixtures._config.schema",
)
VIEWS = """
import json, sys
from pathlib import Path
from stackfixtures import kinds
from stackfixtures._project import load
from stackfixtures.kind_api import OptionsView
p = load("dev", root=Path("."), cache=True)
seen = {}
for name, d in p.graph.definitions.items():  # (what each kind's service reads first)
    seen[name] = [dict(OptionsView.of(d)), list(kinds.get(d.kind).handle_fields(d))]
print(json.dumps({"seen": seen, "modules": sorted(sys.modules)}, default=dict))
"""


def views(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The options each service's kind reads, in a fresh interpreter, and the load's path."""
    seen, took = cached_load(root, VIEWS)
    assert took is not None
    return seen, took


def test_a_hit_of_kafka_xprocess_and_container_reads_their_options_without_pydantic(
    tmp_path: Path,
) -> None:
    root = tmp_path / "proj"
    write_project(root, PROFILE)
    full, took = views(root)
    assert took["path"] == "miss" and took["stored"] is True
    assert "pydantic" in full["modules"]
    again, took = views(root)
    assert took["path"] == "hit"
    assert again["seen"] == full["seen"]
    imported = set(again["modules"])
    assert not {m for m in imported if m.startswith("pydantic")}
    assert not imported & set(OPTIONS_MODELS), sorted(imported & set(OPTIONS_MODELS))
    for kind in ("kafka", "xprocess", "container", "external", "components"):
        assert f"stackfixtures.kinds.{kind}" in imported  # (each kind's own module, its Kind)
    events, worker, web = (again["seen"][n][0] for n in ("events", "worker", "web"))
    assert events["settings"] == {"num.partitions": 3, "auto.create.topics.enable": False}
    assert events["heap"] == "256M" and worker == {"starter": "helpers:Starter"}
    profiles = root / "profiles"
    assert web["build"]["context"] == str(profiles / "web")  # (as written there: anchored)
    assert web["volumes"] == [f"{profiles / 'site'}:/www:ro", "data:/var/data"]
    assert web["healthcheck"]["interval"] == 0.5 and web["healthcheck"]["retries"] == 30
    assert web["ready"]["timeout"] == 20 and web["ready"]["http"].endswith("${port}/")
    assert again["seen"]["web"][1] == ["host", "port", "url", "container_id", "image"]
    assert again["seen"]["legacy"][0] == {"url": "redis://127.0.0.1:6390/3", "ready": False}
    assert "db" in again["seen"]["legacy"][1]  # (what the URL's kind reads from it)
    assert again["seen"]["parts"][0]["components"] == ["api", "jobs"]


def test_the_moved_options_models_are_still_importable_where_they_were() -> None:
    from stackfixtures import kinds
    from stackfixtures.kinds.components import ComponentsConfig
    from stackfixtures.kinds.external import ExternalConfig
    from stackfixtures.kinds.kafka import KafkaConfig
    from stackfixtures.kinds.xprocess import XprocessConfig

    moved = {
        "kafka": KafkaConfig,
        "xprocess": XprocessConfig,
        "external": ExternalConfig,
        "components": ComponentsConfig,
    }
    for name, model in moved.items():
        assert model.__module__ == f"stackfixtures.kinds.{name}_options"
        kind = kinds.get(name)
        assert kind is not None and kind.options is model
    container = kinds.get("container")
    assert container is not None and container.options is not None
    assert container.options.__module__ == "stackfixtures.kinds.container.options"


def test_up_of_an_xprocess_starter_from_the_compiled_profile_imports_no_pydantic(
    tmp_path: Path,
) -> None:
    root = tmp_path / "proj"
    write_project(
        root, '[services.worker]\nkind = "xprocess"\nstarter = "helpers:PatternStarter"\n'
    )
    (root / "helpers.py").write_text(STARTERS)
    trace = tmp_path / "trace.jsonl"
    env = {
        "STACKFIXTURES_CACHE": str(tmp_path / "cache"),
        "STACKFIXTURES_TRACE_LOAD": str(trace),
        first_spawn.ENV: "1",
    }
    started = run_stack(["up", "-p", "dev"], root, timeout=120, env=env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        status = run_stack(["status", "-p", "dev", "--json"], root, env=env)
        [worker] = json.loads(status.stdout)["services"]
        assert worker["state"] == "ready" and worker["handle"]["starter"] == "PatternStarter"
    finally:
        stopped = run_stack(["down", "-p", "dev"], root, timeout=60, env=env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    took = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [t["path"] for t in took] == ["miss", "hit"]  # (`stack up`'s, then its launcher's)
    spawned = json.loads((root / ".stack" / "dev" / first_spawn.NAME).read_text())
    assert spawned["service"] == "worker"  # (its options read, its starter run: then spawned)
    for modules in (set(took[1]["modules"]), set(spawned["modules"])):
        assert not {m for m in modules if m.startswith("pydantic")}
        assert not modules & set(OPTIONS_MODELS)


def test_no_built_in_kind_imports_pydantic_or_its_options_model() -> None:
    """Every built-in Kind, and the container kind a data kind's `source = "container"` runs
    through, imports in a fresh interpreter without pydantic or any options model: only
    validating a profile imports them."""
    listing = (
        "import sys\n"
        "from stackfixtures.kinds import BUILTIN, get\n"
        "import stackfixtures.kinds.container, stackfixtures.kinds.from_image\n"
        "assert all(get(name) is not None for name in BUILTIN)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", listing], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    imported = set(done.stdout.split())
    assert not {m for m in imported if m.startswith("pydantic")}
    options = {m for m in imported if m.endswith(("_options", ".options"))}
    assert options == {"stackfixtures._define.options"}, sorted(options)
