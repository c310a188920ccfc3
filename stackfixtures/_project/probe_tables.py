"""The probe tables of a profile entry that every service takes (`liveness`, `export.ready`),
checked against the probe registry: the schema takes their probe keys as written (it sits below
the engine, where the probes are), and this says what is wrong with them, at their keys."""

from __future__ import annotations

from pydantic import ValidationError

from .._config.explain import explain
from .._config.load import Profile
from .._config.schema import ProbeTable, ServiceSpec, checked_table
from .._engine.probes import registry


def _check(profile: Profile, key: tuple[str, ...], table: ProbeTable | None) -> None:
    if table is None:
        return
    model = checked_table(registry.fields(), type(table))
    data = {**table.model_dump(include=table.model_fields_set), **(table.model_extra or {})}
    try:
        model.model_validate(data)
    except ValidationError as e:
        for rel, message in explain(e.errors(), data, model):
            profile.add((*key, *rel), message)


def check(profile: Profile, name: str, spec: ServiceSpec) -> None:
    """Note each mistake of the entry's liveness probe and its container readiness probe."""
    _check(profile, ("services", name, "liveness"), spec.liveness)
    if spec.export is not None:
        _check(profile, ("services", name, "export", "ready"), spec.export.ready)
