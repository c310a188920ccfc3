"""A service's options, typed: what its kind reads (`kind_api.options_of`). Pydantic-free at
run time (the model is the kind's own); below the kinds, so kind_api can export it."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from .service import ServiceDefinition

if TYPE_CHECKING:
    from pydantic import BaseModel

Options = TypeVar("Options", bound="BaseModel")


def options_of(definition: ServiceDefinition, model: type[Options]) -> Options:
    """A service's options, typed: those its profile entry was validated into, once, by its
    kind's model (_project/apply_profile.py). Only a definition made in code, which no profile
    configured, has its `config` validated here."""
    found = definition.options
    if isinstance(found, model):
        return found
    return model.model_validate(definition.config)
