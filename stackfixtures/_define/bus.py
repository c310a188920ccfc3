"""Where a stack publishes its lifecycle events (`[stack] events`; the engine's `bus/` does
it): a NATS URL (or a template naming a service of the stack, `${bus.url}`), the subject
prefix, the profile, the queue's bound."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import templates

DEFAULT_SUBJECT = "stack"
DEFAULT_QUEUE = 1000
"""Events kept while the bus cannot take them; beyond that the oldest are dropped."""

_NOT_A_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


def token(text: str) -> str:
    """One subject token: a replica's `web.2` is `web_2` (a `.` would split the token, and MQTT
    would read it as another level), anything but letters, digits, `_` and `-` is `_`."""
    return _NOT_A_TOKEN.sub("_", text) or "_"


@dataclass(frozen=True)
class BusTarget:
    url: str
    """`nats://host:port`, or a template such as `${bus.url}` filled once that service is up."""
    subject: str = DEFAULT_SUBJECT
    profile: str = "default"
    queue: int = DEFAULT_QUEUE

    @property
    def service(self) -> str | None:
        """The service of this stack the URL's template names (None: an external URL)."""
        return next((ref for ref, attr in templates.references(self.url) if attr), None)

    def subject_for(self, service: str, state: str) -> str:
        """`stack.<profile>.<service>.<state>`, e.g. `stack.dev.api.ready`."""
        return self.subjects_of(service) + token(state)

    def subjects_of(self, service: str) -> str:
        """What the subjects of `service`'s events start with: `stack.dev.api.`."""
        return ".".join((self.subject, token(self.profile), token(service), ""))

    def render(self, handles: Mapping[str, Any]) -> str:
        return templates.render(self.url, _no_own, handles)


def _no_own(key: str) -> str:
    raise KeyError(f"${{{key}}} has no meaning in [stack] events; use ${{service.attribute}}")


def shown(url: str) -> str:
    """A URL as status and logs show it: without the credentials it may hold (a NATS token is
    written as the user: `nats://TOKEN@host:4222`)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
