"""HTTP clients for tests that work in any event loop (pytest-asyncio function, module or
session loop scope): each request uses a client made in the loop that awaits it."""

from __future__ import annotations

from typing import Any

import httpx


class AsyncHttp:
    """`await client.get("/path")`, `await client.post("/path", json=...)`: like
    httpx.AsyncClient's methods, but bound to no event loop, so one fixture value serves
    tests of every loop scope. (An AsyncClient's pool belongs to the loop it first ran in.)"""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self.timeout = timeout

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=self.timeout, trust_env=False
        ) as client:
            return await client.request(method, url, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)
