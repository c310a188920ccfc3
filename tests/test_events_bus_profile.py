"""`[stack] events` and the nats kind's `mqtt`, as a profile writes them: each mistake reported at
its file:line before anything starts; a good table becomes the engine's target."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackfixtures import _project as projects
from stackfixtures.errors import ProfileError

from . import readme
from .conftest import write_project

BUS = '[services.bus]\nkind = "nats"\n'


def problems(tmp_path: Path, text: str) -> str:
    write_project(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        projects.load("dev", root=tmp_path)
    return str(info.value)


def test_a_good_table_becomes_the_target_with_its_service(tmp_path: Path) -> None:
    write_project(
        tmp_path, f'[stack]\nevents = {{ nats = "${{bus.url}}", subject = "ci.x" }}\n{BUS}'
    )
    target = projects.load("dev", root=tmp_path).events
    assert target is not None
    assert (target.service, target.subject, target.profile) == ("bus", "ci.x", "dev")
    assert target.subject_for("web.2", "ready") == "ci.x.dev.web_2.ready"  # one token each


def test_an_external_url_names_no_service(tmp_path: Path) -> None:
    write_project(tmp_path, f'[stack]\nevents = {{ nats = "nats://10.0.0.5:4222" }}\n{BUS}')
    target = projects.load("dev", root=tmp_path).events
    assert target is not None and target.service is None and target.queue == 1000


def test_a_template_naming_no_service_is_placed_with_a_suggestion(tmp_path: Path) -> None:
    text = problems(tmp_path, f'[stack]\nevents = {{ nats = "${{bsu.url}}" }}\n{BUS}')
    assert "dev.toml:2:" in text and "stack.events.nats" in text
    assert "no service 'bsu'" in text and "did you mean 'bus'" in text


def test_an_attribute_the_handle_lacks_is_named_with_those_it_has(tmp_path: Path) -> None:
    text = problems(tmp_path, f'[stack]\nevents = {{ nats = "${{bus.uri}}" }}\n{BUS}')
    assert "dev.toml:2:" in text and "has no 'uri'" in text and "mqtt" not in text


def test_mqtt_fields_are_in_the_handle_only_when_asked(tmp_path: Path) -> None:
    mqtt = f'[stack]\nevents = {{ nats = "${{bus.mqtt_url}}" }}\n{BUS}'
    assert "has no 'mqtt_url'" in problems(tmp_path, mqtt)
    write_project(tmp_path, mqtt + "mqtt = true\n")
    assert projects.load("dev", root=tmp_path).events is not None


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('{ nats = "http://127.0.0.1:4222" }', "is not a NATS URL"),
        ('{ nats = "" }', "must not be empty"),
        ('{ nats = "nats://h:1", subject = "a.>" }', "is not a subject prefix"),
        ('{ nats = "nats://h:1", queue = 0 }', "queue"),
        ('{ nats = "nats://h:1", topic = "x" }', "topic"),
        ('{ nats = "${port}" }', "${port} has no meaning here"),
    ],
)
def test_a_wrong_table_is_placed(tmp_path: Path, table: str, words: str) -> None:
    text = problems(tmp_path, f"[stack]\nevents = {table}\n{BUS}")
    assert "dev.toml:2:" in text and words in text


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ("mqtt = true\njetstream = false", "leave jetstream on"),
        ('mqtt = true\nsource = "container"', 'not with source = "container"'),
        ("mqtt = 0", "mqtt"),
        ('mqtt = "yes"', "mqtt"),
    ],
)
def test_mqtt_mistakes_are_placed(tmp_path: Path, options: str, words: str) -> None:
    text = problems(tmp_path, f"{BUS}{options}\n")
    assert "dev.toml:" in text and words in text


def test_the_readme_example_is_a_valid_profile(tmp_path: Path) -> None:
    example = readme.blocks(readme.section("### Events on a bus"), "toml")[0]
    write_project(tmp_path, example)
    proj = projects.load("dev", root=tmp_path)
    assert proj.events is not None and proj.events.service == "bus"
    assert proj.graph["bus"].config["mqtt"] is True
