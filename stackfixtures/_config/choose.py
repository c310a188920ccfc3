"""Which profile a command means when it names none: the one obvious choice, from paths and
files alone (no user code). Every `stack` command and the pytest plugin ask `choose`:

1. the profile named on the command line (`-p`, `--stack-profile`);
2. `STACK_PROFILE` in the environment;
3. `stack_profile` of pytest's configuration, read as pytest reads it (pytest.ini,
   .pytest.ini, pyproject.toml's `[tool.pytest.ini_options]`, tox.ini, setup.cfg);
4. the only profile in `profiles/`.

The control layer adds a last step (_control/discover.py): the only running stack."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

ENV = "STACK_PROFILE"
INI_KEY = "stack_profile"


class Choice(NamedTuple):
    """A profile (a name under profiles/ or a path) and why it was chosen, for people."""

    profile: str
    why: str
    explicit: bool  # named for this command (flag, environment), not implied by files


def profile_names(root: Path) -> list[str]:
    """The profiles of the project: profiles/*.toml under its root."""
    return sorted(p.stem for p in (root / "profiles").glob("*.toml"))


def choose(
    root: Path,
    given: str | None = None,
    ini: str | None = None,
    environ: Mapping[str, str] | None = None,
    start: Path | None = None,
    read_ini: bool = True,
) -> Choice | None:
    """The profile meant, or None when there is no obvious one. `ini`: pytest's own value
    of `stack_profile` (the plugin has it parsed: `read_ini=False`); else pytest's files are
    read here from `start` (default: the current directory) up to `root`."""
    env = os.environ if environ is None else environ
    if given:
        return Choice(given, "named on the command line", True)
    if env.get(ENV):
        return Choice(env[ENV], f"{ENV}={env[ENV]}", True)
    found = (ini, f"{INI_KEY} of pytest") if ini else None
    if found is None and read_ini:
        found = pytest_ini_profile(root, start)
    if found is not None and found[0]:
        return Choice(found[0], found[1], False)
    names = profile_names(root)
    if len(names) == 1:
        return Choice(names[0], f"the only profile in {root / 'profiles'}", False)
    return None


def pytest_ini_profile(root: Path, start: Path | None = None) -> tuple[str, str] | None:
    """`stack_profile` of the pytest configuration file pytest would use, looking from
    `start` up to `root` (pytest takes the first file that configures it, in this order per
    directory); with where it was read. None when that file does not set it."""
    here = (start or Path.cwd()).resolve()
    root = root.resolve()
    dirs = [here, *here.parents] if here.is_relative_to(root) else [root]
    for d in dirs:
        for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
            found = _read(d / name)
            if found is not None:
                value = found.get(INI_KEY)
                return (str(value).strip(), f"{INI_KEY} in {d / name}") if value else None
        if d == root:
            break
    return None


def _read(path: Path) -> Mapping[str, object] | None:
    """The pytest options `path` holds, or None when it is no pytest configuration file
    (missing, unreadable, or without pytest's section)."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.name == "pyproject.toml":
            if not any(word in text for word in ("ini_options", "\\u", "\\U")):
                return None  # no key of it can name pytest's section: not parsed (tomllib)
            import tomllib

            data = tomllib.loads(text)
            section = data.get("tool", {}).get("pytest", {}).get("ini_options")
            return section if isinstance(section, dict) else None
    except (OSError, UnicodeError, ValueError):
        return None
    import configparser  # (only for a project that has such a file: most commands read none)

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except (ValueError, configparser.Error):
        return None
    wanted = "tool:pytest" if path.name == "setup.cfg" else "pytest"
    if parser.has_section(wanted):
        return dict(parser.items(wanted))
    return {} if path.name in ("pytest.ini", ".pytest.ini") else None
