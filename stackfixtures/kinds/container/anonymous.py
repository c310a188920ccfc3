"""The image's own VOLUMEs: made by us, with the stack's labels, rather than by the engine
without any (so the watchdog and the sweep find them after a SIGKILL of the launcher), one
fresh volume per container, as the engine's anonymous ones are, and removed with it."""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker
    from docker.models.volumes import Volume


def paths(made_by: docker.DockerClient, image: str) -> list[str]:
    """The image's VOLUME paths ([] when the image is not here: the create says so)."""
    import docker

    try:
        found = made_by.images.get(image)
    except (docker.errors.DockerException, OSError):
        return []
    return sorted((found.attrs.get("Config") or {}).get("Volumes") or {})


def make(
    made_by: docker.DockerClient, image: str, taken: Collection[str], labels: dict[str, str]
) -> list[tuple[Volume, str]]:
    """A labelled volume for each VOLUME path of `image` that the service does not mount
    anything at (`taken`), with its path. Blocking. What was made is removed if one fails."""
    made: list[tuple[Volume, str]] = []
    try:
        for path in paths(made_by, image):
            if path.rstrip("/") not in {t.rstrip("/") for t in taken}:
                made.append((made_by.volumes.create(labels=labels), path))
    except BaseException:
        remove([v for v, _ in made])
        raise
    return made


def mounts(made: list[tuple[Volume, str]]) -> list[Any]:
    """The create argument that mounts each at its path."""
    from docker.types import Mount

    return [Mount(target=path, source=volume.name, type="volume") for volume, path in made]


def remove(volumes: list[Volume]) -> None:
    """Remove them (blocking; the container that used them removed first)."""
    import docker

    for volume in volumes:
        with contextlib.suppress(docker.errors.DockerException, OSError):
            volume.remove(force=True)
