"""A task's inputs: the files whose content is part of what it is (its fingerprint), so that a
task re-runs when they change (`stack up` on a running stack, pytest --stack-reuse) and a
template taken after it is rebuilt.

They are the files its command names (`psql -f schema.sql`: `schema.sql`; not a file it writes,
after `-o`/`--output` or a dumper's `-f`) and those its
`watch` patterns match (`watch = ["migrations/*.sql"]`, gitignore-style, as `stack run --watch`
reads them)."""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path, PurePosixPath

from .._define.service import ServiceDefinition

SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".stack"}
)
MAX_FILES = 5000
"""At most this many files are read for one task (a pattern matching a whole tree is a
mistake: the fingerprint then covers the first ones found)."""


def digest(path: Path) -> str:
    """A file's content as a short hex ("missing" when it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return "missing"


OUTPUT_FLAGS = frozenset({"-o", "--output", "--out", "--outfile", "--output-file"})
"""Flags whose value is a file the command writes: no input (it would change the fingerprint
at every run, and the task would run again each time)."""
DUMPERS = frozenset({"pg_dump", "pg_dumpall", "mysqldump"})
"""Programs whose `-f`/`--file` names their output (psql's `-f` is its input)."""


def _writes(program: str, flag: str) -> bool:
    """Whether the value of `flag` (`-o`, `--output=`) names a file `program` writes."""
    name = flag.split("=", 1)[0]
    return name in OUTPUT_FLAGS or (
        os.path.basename(program) in DUMPERS and name in ("-f", "--file")
    )


def _named(definition: ServiceDefinition, root: Path) -> list[str]:
    """The command's arguments that are files under the root (relative paths), but for those
    it writes (after `-o`, `--output`, a dumper's `-f`)."""
    command = definition.config.get("command")
    if not isinstance(command, (list, tuple)):
        return []
    found = []
    program = str(command[0]) if command else ""
    for before, arg in itertools.pairwise(command):
        if _writes(program, str(before)) or ("=" in str(arg) and _writes(program, str(arg))):
            continue
        text = str(arg).split("=", 1)[-1] if str(arg).startswith("--") else str(arg)
        if not text or "${" in text or text.startswith("-") or os.path.isabs(text):
            continue
        path = root / text
        if path.is_file() and path.resolve().is_relative_to(root.resolve()):
            found.append(text)
    return found


def _watched(definition: ServiceDefinition, root: Path) -> list[str]:
    """The files under the root its `watch` patterns match (and its `ignore` ones do not)."""
    if not definition.watch:
        return []
    from pathspec import PathSpec

    include = PathSpec.from_lines("gitignore", definition.watch)
    exclude = PathSpec.from_lines("gitignore", definition.watch_ignore)
    found: dict[str, None] = {}
    for start in sorted({_base(p) for p in definition.watch}):
        for here, dirs, files in os.walk(root / start):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for f in sorted(files):
                rel = os.path.relpath(os.path.join(here, f), root).replace(os.sep, "/")
                if include.match_file(rel) and not exclude.match_file(rel):
                    found[rel] = None
                    if len(found) >= MAX_FILES:
                        return list(found)
    return list(found)


def _base(pattern: str) -> str:
    """The directory a pattern can only match under (`migrations/*.sql` -> `migrations`); ""
    when it may match at any depth (no slash but a trailing one, as in .gitignore)."""
    stripped = pattern.strip().lstrip("/")
    if "/" not in stripped.rstrip("/"):
        return ""
    fixed = []
    for part in PurePosixPath(stripped).parts[:-1]:
        if set(part) & set("*?["):
            break
        fixed.append(part)
    return "/".join(fixed)


def task_inputs(definition: ServiceDefinition, root: Path | None) -> dict[str, str]:
    """A task's input files (relative to the root) and their content's digests; {} for a
    service that is no task, or without a root to read them from."""
    if not definition.task or root is None:
        return {}
    names = dict.fromkeys([*_named(definition, root), *_watched(definition, root)])
    return {name: digest(root / name) for name in names}
