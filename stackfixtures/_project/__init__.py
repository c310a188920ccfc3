"""A project: its root, its profile and the @service definitions it imports, as one checked
Graph. Both front doors (the pytest plugin and the `stack` CLI) load a project this way."""

from __future__ import annotations

from .._config.locate import find_root
from .load import Project, fingerprint, fingerprints, load

__all__ = ["Project", "find_root", "fingerprint", "fingerprints", "load"]
