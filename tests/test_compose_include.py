"""Compose in (no engine needed): a profile's `[stack] include` of a compose file and `stack
import compose` map Compose's keys onto container services, interpolate as Compose does, keep
the graph's edges, and list every key they cannot honour at its file:line, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stackfixtures import _project as projects
from stackfixtures._config.load import validate_profile
from stackfixtures._config.read import read_compose
from stackfixtures._export import compose as compose_export
from stackfixtures.errors import ProfileError

from .compose_include_helpers import compose_schema, including, services, write_compose

__all__ = ["compose_schema"]  # a fixture

EVERY_KEY = """\
x-common: &common
  image: stackfixtures-test/busybox:1
services:
  web:
    <<: *common
    command: httpd -f -p 80 -h /www
    entrypoint: ["/bin/sh", "-c", "exec \\"$$@\\"", "--"]
    environment:
      - GREETING=hi
      - FROM_HOST
      - FROM_DOTENV=${DOTENV_ONLY}
    env_file: [web.env]
    ports: ["80", "127.0.0.1:8443:443", {target: 53, published: "5353", protocol: udp}]
    volumes:
      - data:/var/lib/x
      - ./site:/www:ro
      - {type: bind, source: /etc/hostname, target: /in/hostname, read_only: true}
    user: "1000:1000"
    working_dir: /www
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    restart: on-failure:3
    expose: ["80"]
  builder:
    build: {context: ./img, dockerfile: Other.Dockerfile, args: [VERSION=1, FROM_HOST, UNSET]}
    image: mine:1
    healthcheck: {test: ["CMD", "true"], interval: 2s, timeout: 500ms, retries: 3,
                  start_period: 1s}
    restart: unless-stopped
  only-debug:
    image: stackfixtures-test/busybox:1
    profiles: [debug]
volumes:
  data: {}
"""


def test_every_honoured_key_maps_onto_the_container_options(
    tmp_path: Path, compose_schema: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_HOST", "host-value")
    monkeypatch.delenv("UNSET", raising=False)
    monkeypatch.delenv("COMPOSE_PROFILES", raising=False)
    (tmp_path / "compose" / ".env").parent.mkdir()
    (tmp_path / "compose" / ".env").write_text("DOTENV_ONLY=from-dotenv\n")
    (tmp_path / "compose" / "img").mkdir()  # the build context (read: it must be there)
    (tmp_path / "compose" / "web.env").write_text("# comment\nGREETING=loses\nFILE_ONLY='a b'\n")
    write_compose(tmp_path / "compose" / "compose.yaml", EVERY_KEY, compose_schema)
    including(tmp_path, "../compose/compose.yaml")
    found = services(tmp_path)
    assert set(found) == {"web", "builder"}  # only_debug's profile is not active
    assert found["web"] == {
        "kind": "container",
        "image": "stackfixtures-test/busybox:1",
        "command": "httpd -f -p 80 -h /www",
        "entrypoint": ["/bin/sh", "-c", 'exec "$@"', "--"],
        "env": {
            "GREETING": "hi",
            "FROM_HOST": "host-value",
            "FROM_DOTENV": "from-dotenv",
            "FILE_ONLY": "a b",
        },
        "ports": {"80": "${port}", "443": 8443, "53/udp": 5353},
        # paths relative to the compose file, made absolute (stack import writes them relative)
        "volumes": [
            "data:/var/lib/x",
            f"{tmp_path}/compose/site:/www:ro",
            "/etc/hostname:/in/hostname:ro",
        ],
        "user": "1000:1000",
        "workdir": "/www",
        "stop": {"signal": "SIGINT", "grace": 90.0},
        "restart": {"policy": "on-failure", "max_restarts": 3},
    }
    assert found["builder"] == {
        "kind": "container",
        "image": "mine:1",
        "build": {
            "context": f"{tmp_path}/compose/img",
            "dockerfile": "Other.Dockerfile",
            "args": {"VERSION": "1", "FROM_HOST": "host-value"},
        },
        "healthcheck": {
            "test": ["CMD", "true"],
            "interval": 2.0,
            "timeout": 0.5,
            "retries": 3,
            "start_period": 1.0,
        },
        "restart": {"policy": "always"},
    }
    monkeypatch.setenv("COMPOSE_PROFILES", "debug")
    assert "only_debug" in services(tmp_path)  # a `-` in a name becomes `_`


UNHONOURED = """\
services:
  web:
    image: stackfixtures-test/busybox:1
    container_name: fixed
    networks: [back]
    ports: ["0.0.0.0:8080:80", "81", "82"]
    volumes: ["/anonymous"]
    healthcheck: {test: ["CMD", "true"], start_interval: 1s}
    depends_on:
      db: {condition: service_healthy, required: false}
    environment: {NEEDED: "${NEEDED:?set NEEDED}"}
  db:
    image: stackfixtures-test/busybox:1
    healthcheck: {disable: true}
networks: {back: {}}
secrets: {token: {file: ./token}}
"""


def test_every_key_it_cannot_honour_is_listed_at_once_with_its_line(
    tmp_path: Path, compose_schema: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEEDED", raising=False)
    compose = write_compose(tmp_path / "profiles" / "compose.yaml", UNHONOURED, compose_schema)
    including(tmp_path, rest="[services.own]\ncommand = []\n")  # and the profile's own mistake
    with pytest.raises(ProfileError) as e:
        projects.load("dev", root=tmp_path)  # what `stack validate` prints
    c, toml = f"{compose}", f"{tmp_path}/profiles/dev.toml"
    assert str(e.value).splitlines() == [
        f"{c}:4:5: services.web.container_name: cannot be honoured by a container service",
        f"{c}:5:5: services.web.networks: cannot be honoured by a container service",
        f"{c}:6:5: services.web.ports: 81, 82: a service has one free port (${{port}}); "
        "pin the others (HOST:82)",
        f"{c}:6:13: services.web.ports[0]: host address 0.0.0.0: a stack publishes on "
        "127.0.0.1 only",
        f"{c}:7:15: services.web.volumes[0]: '/anonymous': an anonymous volume (no source); "
        "name it (NAME:/anonymous)",
        f"{c}:8:5: services.web.healthcheck: cannot honour start_interval (test, interval, "
        "timeout, retries, start_period)",
        f"{c}:10:7: services.web.depends_on.db: db has its healthcheck disabled",
        f"{c}:10:40: services.web.depends_on.db.required: an optional dependency cannot be "
        "honoured: every dependency of a stack is started",
        f"{c}:11:19: services.web.environment.NEEDED: NEEDED: set NEEDED",
        f"{c}:15:1: networks: cannot be honoured (a stack has one network, services, named "
        "volumes)",
        f"{c}:16:1: secrets: cannot be honoured (a stack has one network, services, named volumes)",
        f"{toml}:4:1: services.own.command: must not be empty (expected at least one item, "
        "found an empty list)",
    ]


WIRED = """\
services:
  web:
    image: stackfixtures-test/busybox:1
    command: ["sh", "-c", "echo $${HOME} $$PATH; exec httpd -f -p 80"]
    environment:
      API: ${api.url}
      TAG: ${TAG:-latest}
      EMPTY_DEFAULT: ${EMPTY:-was-empty}
      EMPTY_KEPT: ${EMPTY-not-used}
      ALT: ${TAG:+tag-set}
      LITERAL: "$${NOT_A_TEMPLATE}"
    ports: ["80"]
    depends_on:
      api: {condition: service_started}
      migrate: {condition: service_completed_successfully}
      db: {condition: service_healthy, restart: true}
  migrate:
    image: stackfixtures-test/busybox:1
    command: ["true"]
    restart: on-failure
  db:
    image: stackfixtures-test/busybox:1
"""

AROUND = """
[services.api]
command = ["{PY}", "{APP}", "--port", "${port}"]

[services.check]
task = true
depends_on = ["web"]
command = ["{PY}", "-c", "print('${web.url}')"]

[services.web]
env = { EXTRA = "from-the-profile" }  # the profile refines what it includes
"""


def test_interpolation_depends_on_conditions_and_both_directions_of_the_graph(
    tmp_path: Path, compose_schema: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMPTY", "")
    monkeypatch.setenv("TAG", "from-the-environment")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / ".env").write_text("TAG=from-dotenv\nEMPTY=x\n")
    # `${api.url}` is no Compose variable (a dot): the schema takes it as any string
    write_compose(tmp_path / "profiles" / "compose.yaml", WIRED, compose_schema)
    including(tmp_path, rest=AROUND)
    found = services(tmp_path)
    web = found["web"]
    assert web["command"] == ["sh", "-c", "echo $${HOME} $PATH; exec httpd -f -p 80"]
    assert web["env"] == {
        "API": "${api.url}",  # a template of the profile: the process service's handle
        "TAG": "from-the-environment",  # the environment over .env
        "EMPTY_DEFAULT": "was-empty",
        "EMPTY_KEPT": "",
        "ALT": "tag-set",
        "LITERAL": "$${NOT_A_TEMPLATE}",  # Compose's $$ is a literal $: the profile's $${
        "EXTRA": "from-the-profile",
    }
    # restart: true is a restart edge; without it Compose leaves the dependent alone
    assert web["depends_on"] == {"api": "ignore", "migrate": "ignore", "db": "restart"}
    assert found["migrate"]["task"] is True  # service_completed_successfully
    assert "restart" not in found["migrate"]  # a task is never restarted for exiting 0
    assert found["db"]["healthcheck"] == "image"  # service_healthy: the image's own, as Compose
    (tmp_path / "profiles" / "compose.yaml").write_text(
        WIRED.replace("condition: service_healthy", "condition: service_started")
    )
    graph = projects.load("dev", root=tmp_path).graph  # both directions, one graph
    assert graph.dependencies("web") == ("api", "migrate", "db")
    assert graph.dependencies("check") == ("web",)
    assert graph["web"].edge("db") == "restart" and graph["web"].edge("api") == "ignore"
    assert graph["migrate"].task


def test_a_profile_names_what_it_includes_where_it_is_written(tmp_path: Path) -> None:
    including(tmp_path, "missing.yaml")
    with pytest.raises(ProfileError) as e:
        validate_profile("dev", tmp_path)
    assert (
        str(e.value)
        == f"{tmp_path}/profiles/dev.toml:2:12: stack.include: missing.yaml: no such file"
    )
    write_compose(tmp_path / "profiles" / "missing.yaml", "services:\n  web: [\n", check=False)
    with pytest.raises(ProfileError) as e:
        validate_profile("dev", tmp_path)
    assert str(e.value).startswith(f"{tmp_path}/profiles/missing.yaml:3:1: invalid YAML")


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # the export asks the data kinds' binaries for their versions
@pytest.mark.parametrize("profile", ["dev", "ci"])
def test_round_trip_export_then_include_gives_the_same_graph(
    profile: str, tmp_path: Path, compose_schema: dict[str, Any]
) -> None:
    """`stack export compose` of the reference backend, included by an empty profile: the same
    names, edges, images, commands and published ports."""
    original = projects.load(profile, root=ROOT)
    doc = compose_export.document(original)
    text = yaml.safe_dump(doc, sort_keys=False)
    write_compose(tmp_path / "profiles" / "compose.yaml", text, compose_schema)
    including(tmp_path)
    found = services(tmp_path)
    graph = original.graph
    assert set(found) == set(doc["services"]) == set(graph.closure(original.selected))
    for name, exported in doc["services"].items():
        mine = found[name]
        edges = {
            d: "restart" if graph[name].edge(d) == "restart" else "ignore"
            for d in graph.dependencies(name)
        }
        assert mine.get("depends_on", {}) == edges, name
        assert mine["image"] == exported["image"]
        assert mine.get("command") == exported.get("command")
        published: dict[str, Any] = {}
        for entry in exported.get("ports", []):  # 127.0.0.1:[HOST]:CONTAINER
            *_, host, inside = str(entry).split(":")
            published[inside] = int(host) if host else "${port}"
        assert mine.get("ports", {}) == published


def test_import_writes_host_paths_relative_to_the_profile_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(`stack import compose -o FILE`'s mapping: the profile is read from FILE's directory;
    the variables whose values it holds are named, for the command to say so.)"""
    monkeypatch.setenv("IMPORT_USER", "1000")
    monkeypatch.delenv("IMPORT_UNSET", raising=False)
    compose = write_compose(
        tmp_path / "compose" / "compose.yaml",
        "services:\n  web:\n    build: .\n    volumes: [./site:/www:ro, ../up:/up, /abs:/abs]\n"
        "    user: ${IMPORT_USER}\n    working_dir: ${IMPORT_UNSET:-/}\n",
        check=False,
    )
    found = read_compose(compose, tmp_path / "profiles")
    assert not found.problems
    assert found.variables == ["IMPORT_USER"]
    assert found.services["web"]["build"] == {"context": "../compose"}
    assert found.services["web"]["volumes"] == ["../compose/site:/www:ro", "../up:/up", "/abs:/abs"]
    inside = read_compose(compose, tmp_path / "compose")
    assert inside.services["web"]["volumes"][0] == "./site:/www:ro"


YAML12 = """\
services:
  web:
    image: stackfixtures-test/busybox:1
    ports: [8080:80, 8081:80]
    environment: {A: yes, B: on, C: 0b1, D: 1_000, E: true, F: 7, DB: "${my-db.url}"}
    restart: no
    depends_on: [my-db]
  my-db:
    image: stackfixtures-test/busybox:1
    healthcheck: {interval: 5s}
"""


def test_values_are_read_as_compose_reads_them(tmp_path: Path) -> None:
    """Compose reads YAML 1.2: `yes`, `on` and `8080:80` are strings there (PyYAML's 1.1
    would make them true and 484880); a service's `-` becomes `_` in references too."""
    compose = write_compose(tmp_path / "profiles" / "compose.yaml", YAML12, check=False)
    including(tmp_path)
    loaded = validate_profile("dev", tmp_path, strict=False)
    web = loaded.raw["services"]["web"]
    assert web["ports"] == {"80": 8080}
    assert [str(p) for p in loaded.problems] == [
        f"{compose}:4:22: services.web.ports[1]: container port 80 twice",
        f"{compose}:10:5: services.my-db.healthcheck: interval without a test: write the test too",
    ]
    assert web["env"] == {
        "A": "yes",
        "B": "on",
        "C": "0b1",
        "D": "1_000",
        "E": "true",
        "F": "7",
        "DB": "${my_db.url}",
    }
    assert "restart" not in web  # `no`
    assert web["depends_on"] == {"my_db": "ignore"}
