"""`[stack] events`: checked against the project before anything starts (the service its
template names, that service's handle, nats-py being there), and made the engine's target."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

from .._config.load import Profile
from .._config.positions import KeyPath
from .._define import templates
from .._define.bus import BusTarget
from .._define.service import ServiceDefinition
from .checks import stack_template

KEY: KeyPath = ("stack", "events", "nats")
NEEDS_NATS_PY = "publishing events needs nats-py: pip install 'stackfixtures[services]'"


def check(profile: Profile, defs: Mapping[str, ServiceDefinition]) -> None:
    """Each mistake of `[stack] events`, at its key."""
    spec = profile.spec.stack.events
    if spec is None:
        return
    if importlib.util.find_spec("nats") is None:
        profile.add(("stack", "events"), NEEDS_NATS_PY)
    for fragment in templates.malformed(spec.nats):
        profile.add(KEY, f"{fragment!r} is not a template: write ${{service.attribute}}")
    stack_template(profile, KEY, spec.nats, defs)
    services = sorted({ref for ref, attr in templates.references(spec.nats) if attr})
    if len(services) > 1:
        profile.add(
            KEY, f"names {len(services)} services ({', '.join(services)}): name the one server"
        )


def target(profile: Profile | None) -> BusTarget | None:
    """What the engine publishes to, if the profile asks."""
    spec = profile.spec.stack.events if profile is not None else None
    if spec is None:
        return None
    return BusTarget(spec.nats, spec.subject, profile.name if profile else "default", spec.queue)
