"""Which engine a container service talks to: `engine = "auto" | "docker" | "podman"` or a
URL (unix://, tcp://, ssh://, http(s)://). Auto is DOCKER_HOST, else Docker's socket, else
Podman's (CONTAINER_HOST, the root or the user's socket): the first that exists."""

from __future__ import annotations

import os

from .engine import DEFAULT_ENGINE

WORDS = ("auto", "docker", "podman")
SCHEMES = ("unix://", "tcp://", "ssh://", "http://", "https://", "npipe://")


def check_engine(given: str) -> str:
    """`given` if it names an engine; ValueError saying what would."""
    if given in WORDS or given.startswith(SCHEMES):
        return given
    raise ValueError(
        f"{given!r} is not an engine: expected one of {', '.join(WORDS)} or a URL "
        "(unix:///run/docker.sock, tcp://host:2375, ...)"
    )


def _unix(path: str) -> str:
    return f"unix://{path}"


def podman_candidates() -> list[str]:
    """Where Podman's Docker-API service listens, in the order it is looked for."""
    found = [os.environ["CONTAINER_HOST"]] if os.environ.get("CONTAINER_HOST") else []
    if os.geteuid() == 0:
        found.append(_unix("/run/podman/podman.sock"))
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    found.append(_unix(f"{runtime}/podman/podman.sock"))
    return found


def candidates(given: str | None) -> list[str]:
    """The URLs `given` may mean, in the order they are tried (the first whose socket exists;
    the last one when none does, so the error names it)."""
    if given is not None and given not in WORDS:
        return [given]
    docker_host = [os.environ["DOCKER_HOST"]] if os.environ.get("DOCKER_HOST") else []
    if given == "docker":
        return docker_host or [DEFAULT_ENGINE]
    if given == "podman":
        return podman_candidates()
    return [*docker_host, DEFAULT_ENGINE, *podman_candidates()]


def resolve(given: str | None) -> str:
    """The URL of the engine `given` names: of its candidates, the first that is not a
    missing Unix socket (a non-Unix URL is taken as it is)."""
    found = candidates(given)
    for url in found:
        if not url.startswith("unix://") or os.path.exists(url.removeprefix("unix://")):
            return url
    return found[0]
