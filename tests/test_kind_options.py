"""A kind's options are validated once, when the profile is applied, and the kind is handed
that typed object rather than a dict to validate again. Pure: nothing is started."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from stackfixtures import _project as projects
from stackfixtures import kinds
from stackfixtures.kind_api import OptionsView, options_of
from stackfixtures.kinds.command import CommandConfig
from stackfixtures.kinds.redis import RedisConfig

from .conftest import write_project

PROFILE = """
[services.cache]
kind = "redis"
databases = 4

[services.app]
command = ["true"]

[services.shared]
kind = "postgres"
external = "postgresql://me@127.0.0.1:5432/dev"

[services.db]
kind = "postgres"
template = { name = "tpl" }
"""


def test_each_service_holds_its_kinds_options_validated_once(tmp_path: Path) -> None:
    write_project(tmp_path, PROFILE)
    graph = projects.load("dev", root=tmp_path).graph
    for name in ("cache", "app", "shared", "db", "db-template"):
        d = graph[name]
        kind = kinds.get(d.kind or "")
        model = d.config_model if kind is None else kind.options
        assert model is not None and isinstance(d.options, model), name
        assert options_of(d, model) is d.options, f"{name}: validated again"
        assert model.model_validate(d.config) == d.options, f"{name}: config and options differ"
    assert options_of(graph["cache"], RedisConfig).databases == 4


def test_a_definition_made_in_code_is_validated_when_read() -> None:
    command = kinds.get("command")
    assert command is not None
    d = command.service.evolve(name="app", config={"command": ["true"]})
    assert d.options is None
    assert options_of(d, CommandConfig).command == ["true"]


def test_options_do_not_outlive_the_config_they_came_from(tmp_path: Path) -> None:
    write_project(tmp_path, PROFILE)
    app = projects.load("dev", root=tmp_path).graph["app"]
    moved = app.evolve(config={"command": ["false"]})
    assert moved.options is None
    assert options_of(moved, CommandConfig).command == ["false"]
    assert app.evolve(name="other").options is app.options


def test_plain_options_read_as_the_model_does(tmp_path: Path) -> None:
    """What a kind reads of its options as plain data (OptionsView, as on a start from a
    compiled profile) is what it read of its model: each field, nested tables, `.items()`."""
    write_project(tmp_path, PROFILE)
    graph = projects.load("dev", root=tmp_path).graph
    for name in ("cache", "app", "db"):
        d, view = graph[name], OptionsView.of(graph[name])
        assert isinstance(d.options, BaseModel)
        for field in type(d.options).model_fields:
            value, seen = getattr(d.options, field), getattr(view, field)
            if isinstance(value, BaseModel):
                assert seen == OptionsView(value.model_dump(exclude_none=True)), (name, field)
            else:
                assert seen == (tuple(value) if isinstance(value, list) else value), (name, field)
    db = OptionsView.of(graph["db"])
    assert db.template.name == "tpl" and db["template"]["after"] == () and db.password is None
    assert dict(OptionsView({"settings": {"fsync": False}}).settings.items()) == {"fsync": False}
    with pytest.raises(AttributeError, match="read-only"):
        db.user = "someone"
