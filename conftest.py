"""Project root conftest: the reference backend's services (from backend.services, through the
test profile) are fixtures; this adds ready HTTP clients for the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

import stackfixtures as sf


@pytest.fixture
def api_client(api_gateway: sf.Handle, agents: sf.Handle) -> Iterator[httpx.Client]:
    """An httpx client for the gateway, with the whole backend (agents too) ready behind it."""
    with httpx.Client(base_url=api_gateway.url, timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture
async def async_api_client(
    api_gateway: sf.Handle, agents: sf.Handle
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx.AsyncClient for the gateway; works in any pytest-asyncio loop scope because the
    services run in the stack's own thread and loop, not in the test's."""
    async with httpx.AsyncClient(base_url=api_gateway.url, timeout=10, trust_env=False) as client:
        yield client
