"""The backend's components by name: "gateway" and "agent-N". The library's host serves any
selection of them from one process (single mode) or each from its own (multi mode)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .agent import Agent
from .gateway import TasksApi
from .settings import Settings


def components(names: Sequence[str]) -> list[Any]:
    settings = Settings.from_env()
    parts: list[Any] = []
    for name in names:
        if name == "gateway":
            parts.append(TasksApi(settings))
        elif name.startswith("agent-"):
            parts.append(Agent(settings, name))
        else:
            raise ValueError(f"unknown backend component {name!r} (gateway, agent-N)")
    return parts
