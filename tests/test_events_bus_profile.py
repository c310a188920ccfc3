"""`[stack] events` and the nats kind's `mqtt`, as a profile writes them: each mistake reported at
its file:line before anything starts; a good table becomes the engine's target."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackfixtures import _project as projects
from stackfixtures._define.bus import shown
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


def test_credentials_in_a_url_are_never_shown() -> None:
    assert shown("nats://s3cret@h:4222") == "nats://***@h:4222"
    assert shown("tls://u:pw@h:4222/x") == "tls://***@h:4222/x"
    assert shown("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


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


def events(table: str) -> str:
    return f"[stack]\nevents = {table}\n{BUS}"


@pytest.mark.parametrize(
    ("profile", "words"),
    [
        (events('{ nats = "http://127.0.0.1:4222" }'), "2:12: stack.events.nats: 'http://"),
        (events('{ nats = "" }'), "2:12: stack.events.nats: must not be empty"),
        (events('{ nats = "nats://h:1", subject = "a.>" }'), "is not a subject prefix"),
        (events('{ nats = "nats://h:1", queue = 0 }'), "2:"),
        (events('{ nats = "nats://h:1", topic = "x" }'), "2:"),
        (events('{ nats = "${port}" }'), "2:12: stack.events.nats: ${port} has no meaning here"),
        (f"{BUS}mqtt = true\njetstream = false\n", "leave jetstream on"),
        (f'{BUS}mqtt = true\nsource = "container"\n', 'not with source = "container"'),
        (f"{BUS}mqtt = 0\n", "3:1: services.bus.mqtt"),
        (f'{BUS}mqtt = "yes"\n', "3:1: services.bus.mqtt"),
    ],
)
def test_each_mistake_is_placed(tmp_path: Path, profile: str, words: str) -> None:
    text = problems(tmp_path, profile)
    assert f"dev.toml:{words}" in text if words[0].isdigit() else words in text, text


def test_the_readme_example_is_a_valid_profile(tmp_path: Path) -> None:
    example = readme.blocks(readme.section("### Events on a bus"), "toml")[0]
    write_project(tmp_path, example)
    proj = projects.load("dev", root=tmp_path)
    assert proj.events is not None and proj.events.service == "bus"
    assert proj.graph["bus"].config["mqtt"] is True
