"""The options of a data kind's `source = "container"` (from_image.py): imported to validate a
profile, never by a start from a compiled profile."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import BaseModel, model_validator

from .images import tagged


class FromImage(BaseModel):
    """The options of `source = "container"` (a data kind's config inherits them)."""

    image: str | None = None  # the repository ("postgres", "registry.local/pg"), or with a tag
    tag: str | None = None
    engine: str | None = None  # as the container kind's: a URL; else DOCKER_HOST, the socket
    LOCAL_ONLY: ClassVar[tuple[str, ...]] = ()  # the kind's options of a local server only

    @model_validator(mode="after")
    def _only_from_an_image(self) -> Self:
        source = getattr(self, "source", None)
        given = [k for k in ("image", "tag", "engine") if getattr(self, k) is not None]
        if given and source != "container":
            raise ValueError(
                f'{", ".join(given)}: only with source = "container" (source is {source!r})'
            )
        local = [k for k in self.LOCAL_ONLY if getattr(self, k)]
        if local and source == "container":
            raise ValueError(
                f'{", ".join(local)}: a local server\'s, not with source = "container"'
            )
        if self.tag and self.image and tagged(self.image):
            raise ValueError(f"image {self.image!r} has a tag already; `tag` would be a second")
        return self
