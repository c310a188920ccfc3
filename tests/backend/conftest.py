"""Every backend test runs twice: against the single-process and the multi-process backend."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", params=["single", "multi"])
def stack_mode(request: pytest.FixtureRequest) -> str:
    """Overrides the plugin's stack_mode: services are started once per mode."""
    return str(request.param)
