"""Reading a profile: its TOML (tomllib), what it `extends`, merged, and where every key of the
result was written (file, line, column), so that a mistake is reported where it is."""

from __future__ import annotations

import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Problem, ProfileError
from .include import compose_file, included, includes
from .positions import KeyPath, SourceMap
from .profile_path import MAX_BYTES, read_bounded
from .profile_path import resolve_path as resolve_path

if TYPE_CHECKING:
    from .._compose.document import Compose

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


@dataclass
class Origins:
    """Where each key path of a merged profile was written: the file that wrote it last."""

    default: str
    written: dict[KeyPath, tuple[SourceMap, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # of the compose files included
    files: list[str] = field(default_factory=list)  # the profile and each it extends, read

    def find(self, path: KeyPath) -> tuple[str, int, int]:
        """(file, line, column) of `path`, else of its nearest written ancestor; line 0 when
        not even the section it belongs to was written (a default, or a missing key)."""
        for n in range(len(path), 0, -1):
            hit = self.written.get(path[:n])
            if hit is not None:
                smap, offset = hit
                return (smap.file, *smap.position(offset))
        return self.default, 0, 0

    def overlay(self, raw: dict[str, Any], smap: SourceMap) -> None:
        """`raw` (from `smap`'s file) merged over what is known: keys it replaces whole (any
        value that is not a table) take their positions, and their old children's, from it."""
        replaced = set(_replaced(raw, ()))
        self.written = {
            p: o
            for p, o in self.written.items()
            if not any(p[:n] in replaced for n in range(1, len(p) + 1))
        }
        self.written.update({p: (smap, off) for p, off in smap.offsets.items()})


def _replaced(data: dict[str, Any], base: KeyPath) -> list[KeyPath]:
    out: list[KeyPath] = []
    for k, v in data.items():
        path = (*base, k)
        if isinstance(v, dict):
            out += _replaced(v, path)
        else:
            out.append(path)
    return out


def missing(path: Path) -> str:
    """Why `path` cannot be read as a profile: it does not exist (and which ones do)."""
    from .suggest import did_you_mean  # (difflib: only for a mistake)

    available = sorted(p.stem for p in path.parent.glob("*.toml")) if path.parent.is_dir() else []
    hint = f" (profiles here: {', '.join(available)})" if available else ""
    return f"no such profile file{hint}{did_you_mean(path.stem, available)}"


def file_kind(mode: int) -> str:
    """`a character device`, `a directory`, ...: what a file of `st_mode` `mode` is, for people."""
    return next((word for test, word in _KINDS if test(mode)), "a file")


def _read_bytes(path: Path) -> bytes:
    """The bytes of `path`, a regular file of at most MAX_BYTES (checked before reading, and
    while: a file that grows meanwhile is not read past the limit); ProfileError if not."""
    file = str(path)
    try:
        data, info = read_bounded(path)
    except FileNotFoundError:
        raise ProfileError(file, "", missing(path)) from None
    except IsADirectoryError:
        raise ProfileError(file, "", "not a regular file (a directory)") from None
    except OSError as e:
        raise ProfileError(file, "", f"cannot read it: {e.strerror or e}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ProfileError(file, "", f"not a regular file ({file_kind(info.st_mode)})")
    if len(data) > MAX_BYTES:
        size = max(info.st_size, len(data))
        raise ProfileError(file, "", f"too large ({size} bytes; a profile is at most 1 MiB)")
    return data


def read_toml(path: Path) -> tuple[dict[str, Any], SourceMap]:
    """One TOML file and the positions of its keys; ProfileError (located) if unreadable."""
    file = str(path)
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ProfileError(
            file, "", f"not UTF-8 text (byte 0x{data[e.start]:02x} cannot be decoded)", line, column
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        at = _AT.search(message)
        line, column = (int(at.group(1)), int(at.group(2))) if at else (0, 0)
        if at is None and message.endswith("(at end of document)"):
            lines = text.split("\n")
            line, column = len(lines), len(lines[-1]) + 1
            message = message.removesuffix(" (at end of document)") + " (at the end of the file)"
        raise ProfileError(
            file, "", f"invalid TOML: {_AT.sub('', message)}", line, column
        ) from None
    except RecursionError:
        raise ProfileError(file, "", "invalid TOML: nested too deeply") from None
    return raw, SourceMap.of(file, text)


def _parent(raw: dict[str, Any]) -> Any:
    stack = raw.get("stack")
    return stack.get("extends") if isinstance(stack, dict) else None


def _extends_error(smap: SourceMap, problem: str) -> ProfileError:
    line, column = smap.find(("stack", "extends")) or (0, 0)
    return ProfileError(smap.file, "stack.extends", problem, line, column)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_profile(
    path: Path, root: Path, with_includes: bool = True
) -> tuple[dict[str, Any], Origins]:
    """A profile's TOML merged over what it extends (transitively), and where each key is;
    without `with_includes`, the compose files it includes are not read (their services are
    not needed: where its state dir is, say)."""
    chain: list[tuple[dict[str, Any], SourceMap]] = []
    seen: list[Path] = []
    current = path
    while True:
        if current in seen:
            names = " -> ".join(str(p) for p in (*seen, current))
            raise _extends_error(chain[-1][1], f"extends itself: {names}")
        if chain and not current.is_file():
            raise _extends_error(chain[-1][1], f"{current}: {missing(current)}")
        seen.append(current)
        raw, smap = read_toml(current)
        chain.append((raw, smap))
        parent = _parent(raw)
        if parent is None:
            break
        if not isinstance(parent, str) or not parent.strip():
            raise _extends_error(smap, "must be a profile name or path")
        here = current.parent
        current = (resolve_path(parent, root) if "/" not in parent else here / parent).resolve()
    merged: dict[str, Any] = {}
    origins = Origins(str(path), files=[smap.file for _, smap in chain])
    for raw, smap in reversed(chain):
        for index, name in enumerate(includes(raw) if with_includes else []):  # beneath it
            services, located, problems = included(smap, index, name, _read_bytes)
            origins.problems += problems
            if located is not None:
                merged = _merge(merged, services)
                origins.overlay(services, located)
        merged = _merge(merged, raw)
        origins.overlay(raw, smap)
    if len(chain) > 1 and isinstance(merged.get("stack"), dict):
        merged["stack"] = {k: v for k, v in merged["stack"].items() if k != "extends"}
    return merged, origins


def raw_profile(path: Path, root: Path, with_includes: bool = True) -> dict[str, Any]:
    """A profile's TOML merged with what it extends, not yet validated."""
    return read_profile(path, root, with_includes)[0]


def read_compose(path: Path, profile_dir: Path) -> Compose:
    """Compose file `path` (a regular file of at most 1 MiB) as services of a profile written in
    `profile_dir`; what it cannot honour in `.problems`. ProfileError if it cannot be read."""
    return compose_file(path, profile_dir, _read_bytes)
