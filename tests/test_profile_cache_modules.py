"""The warm start of a profile whose stack imports `@service` modules (`[stack] modules`, or a
conftest.py): compiled too. A hit imports the modules (the start runs their code anyway) and
takes the compiled form only when they give the definitions it was compiled from; an edited
module file, or a helper module that changes a decorator's argument, is a miss whose result
is the full path's; a module that no longer imports says what the full path says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run_stack
from tests.conftest import free_port, write_project
from tests.test_profile_cache import env_of
from tests.test_profile_cache import load as cached_load
from tests.test_profile_cache_up import up_env_down

pytestmark = pytest.mark.slow  # runs loads in fresh interpreters, starts a stack (tests/spawns.py)

PROFILE = """
[stack]
modules = ["services.py"]

[services.cache]
kind = "redis"
port = {port}

[services.api]
workers = 3

[services.api2]
kind = "api"
workers = 5
"""
HELPER = "TIMEOUT = 7.0\n\ndef word() -> str:\n    return 'one'\n"
SERVICES = """
from pydantic import BaseModel

import stackfixtures as sf
from helper import TIMEOUT, word


class ApiConfig(BaseModel):
    workers: int = 1


@sf.service(config=ApiConfig, start_timeout=TIMEOUT)
def api(cache: sf.Handle, ctx: sf.ServiceContext):
    cfg = ApiConfig.model_validate(ctx.config)
    yield sf.Handle(url=cache.url, workers=cfg.workers, word=word())
"""
LOAD = """  # (the options of the @service ones: a kind's are plain data on a hit)
import json, sys
from pathlib import Path
from stackfixtures._project import load
from stackfixtures.errors import DefinitionError
try:
    p = load("dev", root=Path("."), cache=True)
except DefinitionError as e:
    print(json.dumps({"error": str(e)}))
    raise SystemExit(0)
defs = p.graph.definitions
PYTHON = ("api", "api2")
print(json.dumps({
    "names": sorted(p.graph.names),
    "timeout": {n: d.start_timeout for n, d in defs.items()},
    "options": {n: [type(defs[n].options).__name__, repr(defs[n].options)] for n in PYTHON},
    "deps": {n: list(d.dependencies) for n, d in defs.items()},
    "fresh": defs["api"].function is sys.modules["services"].api.function,
    "set": {n: sorted(defs[n].options.model_fields_set) for n in PYTHON},
    "config": {n: dict(defs[n].config) for n in PYTHON},
    "aside": p.aside,
}, default=repr))
"""
SKIPPED_ON_A_HIT = (
    "stackfixtures._config.schema",
    "stackfixtures._config.load",
    "stackfixtures._project.checks",
    "stackfixtures._project.apply_profile",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write_project(root, PROFILE.format(port=free_port()))
    (root / "helper.py").write_text(HELPER)
    (root / "services.py").write_text(SERVICES)
    return root


def load(root: Path, **more: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A start's load in a fresh interpreter: what it gave, the path it took (None: failed)."""
    return cached_load(root, LOAD, **more)


def test_a_profile_with_service_modules_is_compiled_and_its_hit_skips_the_checks(
    project: Path,
) -> None:
    first, took = load(project)
    assert took is not None and took["path"] == "miss" and took["stored"] is True
    assert first["options"]["api2"][0] == "ApiConfig" and "workers=5" in first["options"]["api2"][1]
    again, took = load(project)
    assert took is not None and took["path"] == "hit"
    assert again == first
    assert again["fresh"] is True  # (the function the stack runs is the module's, imported now)
    assert not set(took["modules"]) & set(SKIPPED_ON_A_HIT)
    # a helper's body the definitions do not depend on: still a hit, running the new code
    (project / "helper.py").write_text(HELPER.replace("'one'", "'two'"))
    assert load(project)[1]["path"] == "hit"  # type: ignore[index]


def test_an_edited_module_or_a_helper_that_changes_a_definition_is_a_miss(project: Path) -> None:
    load(project)
    services = project / "services.py"
    services.write_text(SERVICES.replace("workers: int = 1", "workers: int = 2"))
    assert load(project)[1]["path"] == "miss"  # type: ignore[index]
    assert load(project)[1]["path"] == "hit"  # type: ignore[index]
    # the helper is not in the key; the definitions it shapes are compared at the hit
    (project / "helper.py").write_text(HELPER.replace("7.0", "9.0"))
    said, took = load(project)
    assert took is not None and took["path"] == "miss"
    assert said["timeout"]["api"] == 9.0 and said["timeout"]["api2"] == 9.0
    again, took = load(project)
    assert took is not None and took["path"] == "hit" and again == said


def test_a_module_that_no_longer_imports_says_what_validate_says(project: Path) -> None:
    load(project)
    assert load(project)[1]["path"] == "hit"  # type: ignore[index]
    (project / "helper.py").write_text("raise RuntimeError('helper is broken')\n")
    said, took = load(project)
    assert took is None  # the full path failed
    assert "helper is broken" in said["error"]
    validate = run_stack(["validate", "-p", "dev"], project, env=env_of(project))
    assert validate.returncode == 2
    assert said["error"] in validate.stderr  # (its problems, each where it is written)


def test_up_of_a_compiled_profile_with_service_modules_runs_the_same_stack(
    project: Path, tmp_path: Path
) -> None:
    trace = tmp_path / "trace.jsonl"
    env = {"STACKFIXTURES_CACHE": str(tmp_path / "cache"), "STACKFIXTURES_TRACE_LOAD": str(trace)}
    full = up_env_down(project, {**env, "STACKFIXTURES_PROFILE_CACHE": "0"})
    trace.unlink()
    compiled = up_env_down(project, env)
    took = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [t["path"] for t in took] == ["miss", "hit", "hit"], [t["path"] for t in took]
    assert not set(took[1]["modules"]) & set(SKIPPED_ON_A_HIT)  # (the launcher's load)
    assert compiled == full
    assert compiled["handles"]["api2"]["workers"] == 5
    assert compiled["handles"]["api"]["url"] == compiled["handles"]["cache"]["url"]


def test_an_options_model_whose_defaults_changed_gives_the_new_defaults(project: Path) -> None:
    """Its defaults may come from a helper module or the environment, neither in the key: a
    hit validates the keys the profile wrote with the model as it is then."""
    services = project / "services.py"
    services.write_text(
        SERVICES.replace("from helper import", "import os\nfrom helper import").replace(
            "workers: int = 1", "workers: int = 1\n    level: str = os.environ.get('LVL', 'a')"
        )
    )
    first, _ = load(project)
    assert first["set"]["api"] == ["workers"]  # (what the profile wrote; the rest defaults)
    again, took = load(project, LVL="b")
    assert took is not None and took["path"] == "hit"
    full, _ = load(project, LVL="b", STACKFIXTURES_PROFILE_CACHE="0")
    assert again == full and full["config"]["api"] == {"workers": 3, "level": "b"}


def test_options_that_are_not_plain_data_or_services_set_aside_are_not_compiled(
    project: Path,
) -> None:
    services = project / "services.py"
    model = "workers: int = 1\n    where: Path = Path('x')\n    tags: set[str] = set()"
    services.write_text(
        SERVICES.replace("from pydantic", "from pathlib import Path\nfrom pydantic").replace(
            "workers: int = 1", model
        )
    )
    first, took = load(project)  # (the start goes on: its profile is just not compiled)
    assert took is not None and took["stored"] is False and "where=PosixPath('x')" in str(first)
    services.write_text(SERVICES + "\n\n@sf.service\ndef worker(ghost):\n    yield None\n")
    (project / "profiles" / "dev.toml").write_text(
        (project / "profiles" / "dev.toml")
        .read_text()
        .replace("[stack]", '[stack]\nservices = ["api"]')
    )
    said, took = load(project)  # (why `worker` cannot run names the other profiles: not keyed)
    assert took is not None and took["stored"] is False and "ghost" in said["aside"]["worker"]
