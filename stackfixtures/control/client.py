"""The CLI's side of the control channel: httpx over the Unix socket of a running stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from .endpoint import Endpoint, find


class NotRunning(Exception):
    """No live stack answers for this state dir (a stale socket, if any, was removed)."""


class ControlClient:
    def __init__(self, endpoint: Endpoint, timeout: float = 120.0) -> None:
        self.endpoint = endpoint
        self.http = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(endpoint.socket)),
            base_url="http://stack",
            timeout=timeout,
            trust_env=False,
        )

    def get(self, path: str, **params: Any) -> Any:
        return self._check(self.http.get(path, params=params))

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._check(self.http.post(path, json=body or {}))

    def text(self, path: str) -> str:
        response = self.http.get(path)
        response.raise_for_status()
        return response.text

    @staticmethod
    def _check(response: httpx.Response) -> Any:
        data = response.json()
        if response.status_code >= 400:
            raise ControlError(data.get("error", response.text), response.status_code)
        return data

    def close(self) -> None:
        self.http.close()


class ControlError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def connect(state_dir: Path) -> ControlClient:
    endpoint, why = find(state_dir)
    if endpoint is None:
        raise NotRunning(why)
    return ControlClient(endpoint)
