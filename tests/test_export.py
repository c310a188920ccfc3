"""Exports: the reference profiles as Compose and Kubernetes documents that validate against
the Compose specification's schema and Kubernetes' own schemas; order changes show up."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from stackfixtures import _project as projects
from stackfixtures._export import compose, k8s
from stackfixtures.errors import ProfileError

from .cli_helpers import run_stack
from .conftest import write_project

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("STACKFIXTURES_SHARED") or ROOT.parent / "shared")
SCHEMA = SHARED / "data" / "compose-spec.json"
K8S_VERSION = "1.33"

# the data kinds' images are at the version of the server run here: asked with `--version`
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    if not SCHEMA.exists():
        pytest.skip(f"the Compose schema is read from {SCHEMA} (shared/ beside the checkout)")
    return json.loads(SCHEMA.read_text())  # type: ignore[no-any-return]


def validate_k8s(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("profile", ["dev", "ci"])
def test_reference_profiles_export_valid_compose(
    profile: str, compose_schema: dict[str, Any]
) -> None:
    doc = compose.document(projects.load(profile, root=ROOT))
    # what a compose user loads is the YAML text: validate that, not the Python dict
    jsonschema.Draft7Validator(compose_schema).validate(yaml.safe_load(yaml.safe_dump(doc)))
    services = doc["services"]
    assert set(services) == {"postgres", "redis", "nats", "api_gateway", "agents"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["postgres"]["stop_signal"] == "SIGINT"
    gateway = services["api_gateway"]
    assert gateway["depends_on"]["postgres"] == {
        "condition": "service_healthy",
        "restart": True,
        "required": True,
    }
    assert gateway["environment"]["DATABASE_URL"] == "postgresql://postgres@postgres:5432/postgres"
    assert services["agents"]["deploy"] == {"replicas": 3}
    assert services["agents"]["ports"] == ["127.0.0.1::8001"]  # replicas: the engine picks
    assert gateway["ports"] == ["127.0.0.1:8000:8000"]
    assert not any("expose" in s for s in services.values())


@pytest.mark.parametrize("profile", ["dev", "ci"])
def test_reference_profiles_export_valid_kubernetes(profile: str) -> None:
    objects = k8s.objects(projects.load(profile, root=ROOT))
    validate_k8s([d for docs in objects.values() for d in docs])
    kinds = {name: [d["kind"] for d in docs] for name, docs in objects.items()}
    assert kinds["postgres"] == ["Service", "StatefulSet"]
    assert kinds["api-gateway"] == ["Service", "Deployment"]
    pod = objects["api-gateway"][1]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == [
        "wait-for-postgres",
        "wait-for-redis",
        "wait-for-nats",
    ]
    main = pod["containers"][0]
    assert main["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    pg = objects["postgres"][1]["spec"]["template"]["spec"]
    assert pg["terminationGracePeriodSeconds"] == 30
    assert "kill -INT 1" in pg["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][2]


ORDER = """
[services.first]
command = ["python", "-m", "http.server", "${port}"]
ready = { http = "http://127.0.0.1:${port}/" }
export = { image = "python:3.11-slim" }
DEPS_FIRST

[services.second]
command = ["python", "-m", "http.server", "${port}"]
ready = { tcp = "${port}" }
export = { image = "python:3.11-slim", port = 9000 }
DEPS_SECOND
"""


def test_a_dependency_order_change_shows_up_in_both(
    tmp_path: Path, compose_schema: dict[str, Any]
) -> None:
    def export(first: str, second: str) -> tuple[dict[str, Any], dict[str, Any]]:
        write_project(tmp_path, ORDER.replace("DEPS_FIRST", first).replace("DEPS_SECOND", second))
        proj = projects.load("dev", root=tmp_path)
        doc = compose.document(proj)
        jsonschema.Draft7Validator(compose_schema).validate(doc)
        objects = k8s.objects(proj)
        validate_k8s([d for docs in objects.values() for d in docs])
        return doc, objects

    doc, objects = export("", 'depends_on = { first = "ignore" }')
    assert doc["services"]["second"]["depends_on"] == {
        "first": {"condition": "service_healthy", "restart": False, "required": True}
    }
    assert "depends_on" not in doc["services"]["first"]
    init = objects["second"][1]["spec"]["template"]["spec"]["initContainers"]
    assert init[0]["command"][2].startswith("until nc -z first 8000")

    doc, objects = export('depends_on = ["second"]', "")
    assert doc["services"]["first"]["depends_on"]["second"]["condition"] == "service_healthy"
    assert "depends_on" not in doc["services"]["second"]
    assert "initContainers" not in objects["second"][1]["spec"]["template"]["spec"]
    first_init = objects["first"][1]["spec"]["template"]["spec"]["initContainers"]
    assert first_init[0]["command"][2].startswith("until nc -z second 9000")


def test_a_command_service_without_an_image_is_named(tmp_path: Path) -> None:
    path = write_project(tmp_path, '[services.web]\ncommand = ["python", "web.py"]\n')
    with pytest.raises(ProfileError) as info:
        compose.document(projects.load("dev", root=tmp_path))
    assert info.value.file == str(path) and info.value.key == "services.web.export.image"
    result = run_stack(["export", "k8s", "--profile", "dev"], tmp_path)
    assert result.returncode == 2 and "services.web.export.image" in result.stderr


def test_cli_writes_the_files(tmp_path: Path) -> None:
    out = tmp_path / "compose.yaml"
    result = run_stack(["export", "compose", "--profile", "ci", "-o", str(out)], ROOT)
    assert result.returncode == 0, result.stderr
    assert set(yaml.safe_load(out.read_text())["services"]) >= {"postgres", "api_gateway"}
    result = run_stack(["export", "k8s", "--profile", "ci", "-o", str(tmp_path / "k8s")], ROOT)
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in (tmp_path / "k8s").iterdir())
    assert files == ["agents.yaml", "api-gateway.yaml", "nats.yaml", "postgres.yaml", "redis.yaml"]
    validate_k8s(list(yaml.safe_load_all((tmp_path / "k8s" / "postgres.yaml").read_text())))


def test_a_task_exports_as_one_that_dependents_wait_to_complete(
    tmp_path: Path, compose_schema: dict[str, Any]
) -> None:
    write_project(
        tmp_path,
        """
[services.migrate]
command = ["python", "migrate.py"]
task = true
export = { image = "app:1" }

[services.web]
command = ["python", "web.py"]
depends_on = ["migrate"]
export = { image = "app:1", port = 8000 }
""",
    )
    doc = compose.document(projects.load("dev", root=tmp_path))
    jsonschema.Draft7Validator(compose_schema).validate(doc)
    assert doc["services"]["migrate"]["restart"] == "no"
    condition = doc["services"]["web"]["depends_on"]["migrate"]["condition"]
    assert condition == "service_completed_successfully"


def test_a_container_probe_keeps_its_own_timing_unless_the_service_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The exporter overrides only the timing the service set (its liveness policy); anything
    else is the container probe's own (_define/container.py: LivenessPolicy's defaults)."""
    from stackfixtures._define.container import ContainerProbe
    from stackfixtures._engine.probes import registry
    from stackfixtures._export import containers

    own = ContainerProbe("tcp", 8000, period=1.5, timeout=0.5, failures=7)
    monkeypatch.setattr(registry, "container_probe", lambda spec, port, render: own)
    assert containers._probe({"tcp": 8000}, 8000, str) == own
    live = containers._probe({"tcp": 8000}, 8000, str, period=9.0, failures=2)
    assert live == ContainerProbe("tcp", 8000, period=9.0, timeout=0.5, failures=2)
    assert containers._probe(None, 8000, str) is None


def test_a_container_service_exports_to_kubernetes(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
[services.web]
kind = "container"
image = "stackfixtures-test/busybox:1"
entrypoint = ["httpd"]
command = ["-f", "-p", "80"]
workdir = "/www"
ports = { "80" = "${port}" }
ready = { tcp = "${port}" }
""",
    )
    objects = k8s.objects(projects.load("dev", root=tmp_path))
    validate_k8s(objects["web"])
    main = objects["web"][1]["spec"]["template"]["spec"]["containers"][0]
    assert (main["command"], main["args"], main["workingDir"]) == (
        ["httpd"],
        ["-f", "-p", "80"],
        "/www",
    )
    assert main["readinessProbe"]["tcpSocket"] == {"port": 80}
    assert objects["web"][0]["spec"]["ports"][0]["port"] == 80
