"""A service's options, typed: what its kind reads (`kind_api.options_of`). Pydantic-free at
run time (the model is the kind's own); below the kinds, so kind_api can export it."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from .service import ServiceDefinition

if TYPE_CHECKING:
    from pydantic import BaseModel

Options = TypeVar("Options", bound="BaseModel")


class Checked(dict[str, Any]):
    """A service's options as plain data, as its kind's model gave them (`model_dump`) when
    its profile was validated, given back by a compiled profile (_project/compiled.py): a kind
    that reads its options as plain data (`plain_options`) takes them without its model."""


class OptionsView(Mapping[str, Any]):
    """A service's options as plain data (`plain_options`), read as its model is: `cfg.port`,
    nested `cfg.x.y` (a table is a view too), `cfg.settings.items()`, `cfg["key"]`. Frozen: a
    list reads as a tuple. A key the dump left out reads as None, as on the model (its dump
    leaves out None values only: `model_dump(exclude_none=True)`). What a kind reads on a
    start from a compiled profile and on the full path alike, so both behave the same."""

    __slots__ = ("_data",)
    _data: dict[str, Any]

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _viewed(self._data.get(name))

    def __getitem__(self, key: str) -> Any:
        return _viewed(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"options are read-only: cannot set {name!r}")

    def __repr__(self) -> str:
        return f"OptionsView({self._data!r})"

    @classmethod
    def of(cls, definition: ServiceDefinition) -> OptionsView:
        """`definition`'s options (`plain_options`), viewed."""
        return cls(plain_options(definition))


def _viewed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return OptionsView(value)
    if isinstance(value, list | tuple):
        return tuple(_viewed(v) for v in value)
    return value


def model_of(config_model: Any) -> Any:
    """A definition's options model: the class itself, or named `"module:Class"` (a kind whose
    service does not import its model, nor pydantic, until a profile is validated)."""
    if not isinstance(config_model, str):
        return config_model
    module, _, name = config_model.partition(":")
    return getattr(importlib.import_module(module), name)


def plain_options(definition: ServiceDefinition) -> dict[str, Any]:
    """A service's options as plain data (`model_dump(exclude_none=True)` of its validated
    options): those a compiled profile kept, else validated by its kind's model now."""
    found = definition.options
    if isinstance(found, Checked):
        return dict(found)
    model = model_of(definition.config_model)
    dumped: dict[str, Any] = options_of(definition, model).model_dump(exclude_none=True)
    return dumped


def options_of(definition: ServiceDefinition, model: type[Options]) -> Options:
    """A service's options, typed: those its profile entry was validated into, once, by its
    kind's model (_project/apply_profile.py). Only a definition made in code, which no profile
    configured, has its `config` validated here."""
    found = definition.options
    if isinstance(found, model):
        return found
    return model.model_validate(definition.config)
