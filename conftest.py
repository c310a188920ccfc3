"""Project root conftest: the reference backend's services (from backend.services, through the
test profile) are fixtures; this adds ready HTTP clients for the gateway."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import stackfixtures as sf
from stackfixtures.testing.clients import AsyncHttp


@pytest.fixture
def api_client(api_gateway: sf.Handle, agents: sf.Handle) -> Iterator[httpx.Client]:
    """An httpx client for the gateway, with the whole backend (agents too) ready behind it."""
    with httpx.Client(base_url=api_gateway.url, timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture
def async_api_client(api_gateway: sf.Handle, agents: sf.Handle) -> AsyncHttp:
    """An async HTTP client for the gateway that works in tests of any pytest-asyncio loop
    scope: the services run in the stack's own thread and loop, and the client binds to
    whichever loop awaits it."""
    return AsyncHttp(api_gateway.url)
