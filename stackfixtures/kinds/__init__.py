"""Kinds: the services a profile names with `kind = "..."`, built-in or from installed packages.

Each kind lives in one module (its service, options, handle fields, external URLs, container,
binaries) and is described by a `Kind`; the registry finds them by name or URL scheme.
"""

from __future__ import annotations

from ..kind_api import Container, ContainerProbe, data_container, options_of
from .base import Kind
from .registry import BUILTIN, GROUP, builtin_names, for_scheme, get, names, of_handle

__all__ = [
    "BUILTIN",
    "GROUP",
    "Container",
    "ContainerProbe",
    "Kind",
    "builtin_names",
    "data_container",
    "for_scheme",
    "get",
    "names",
    "of_handle",
    "options_of",
]
