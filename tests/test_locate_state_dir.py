"""Which state dir a profile's stack uses, found as every operating command finds it: from the
profile's own text when that says it all (no `state_dir`, no `extends`: the default, without
parsing it), with tomllib when this file alone sets it, and with the full reader when it
extends another or cannot be read (its mistakes located as always). And pytest's
`stack_profile`, where a pyproject.toml without pytest's section is not parsed."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackfixtures._config.choose import pytest_ini_profile
from stackfixtures._config.locate import state_dir_of
from stackfixtures.errors import ProfileError


def profile(root: Path, name: str, text: str) -> None:
    (root / "profiles").mkdir(exist_ok=True)
    (root / "profiles" / f"{name}.toml").write_text(text)


def test_a_profile_that_sets_no_state_dir_uses_the_default(tmp_path: Path) -> None:
    profile(tmp_path, "dev", '[stack]\nservices = ["web"]\n\n[services.web]\ncommand = ["x"]\n')
    assert state_dir_of("dev", tmp_path) == tmp_path / ".stack" / "dev"


@pytest.mark.parametrize(
    "text",
    [
        '[stack]\nstate_dir = "run/here"\n',
        'stack = { state_dir = "run/here" }\n',
        'stack.state_dir = "run/here"\n',
        '[stack]\n"state\\u005fdir" = "run/here"\n',  # the key spelt with an escape
    ],
)
def test_a_state_dir_the_profile_sets_is_found_however_written(tmp_path: Path, text: str) -> None:
    profile(tmp_path, "dev", text)
    assert state_dir_of("dev", tmp_path) == tmp_path / "run" / "here"


def test_a_state_dir_set_by_the_profile_it_extends_is_found(tmp_path: Path) -> None:
    profile(tmp_path, "base", '[stack]\nstate_dir = "from/base"\n')
    profile(tmp_path, "dev", '[stack]\nextends = "base"\n')
    assert state_dir_of("dev", tmp_path) == tmp_path / "from" / "base"
    profile(tmp_path, "dev", '[stack]\nextends = "base"\nstate_dir = "own"\n')
    assert state_dir_of("dev", tmp_path) == tmp_path / "own"


def test_a_mistake_in_a_profile_that_may_set_it_is_reported_where_it_is(tmp_path: Path) -> None:
    profile(tmp_path, "dev", '[stack]\nstate_dir = "run/here"\n[stack\n')
    with pytest.raises(ProfileError, match=r"dev\.toml:3:\d+: invalid TOML"):
        state_dir_of("dev", tmp_path)
    with pytest.raises(ProfileError, match="no such profile file"):
        state_dir_of("nothere", tmp_path)


def test_a_mistake_elsewhere_is_for_the_commands_that_load_the_profile(tmp_path: Path) -> None:
    """A text in which no key can name a state dir or a profile it extends sets none: the
    stack of a profile being edited is still found (`stack validate` and `up` report it)."""
    profile(tmp_path, "dev", "[services.web]\ncommand = [\n")
    assert state_dir_of("dev", tmp_path) == tmp_path / ".stack" / "dev"


def test_pytests_profile_is_looked_for_past_a_pyproject_without_its_section(
    tmp_path: Path,
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nstack_profile = ci\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # configures no pytest
    assert pytest_ini_profile(tmp_path, sub) == (
        "ci",
        f"stack_profile in {tmp_path / 'pytest.ini'}",
    )
    (sub / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-q'\n")
    assert pytest_ini_profile(tmp_path, sub) is None  # pytest's file here: it names none
    (sub / "pyproject.toml").write_text("[tool.pytest]\nini_options = { stack_profile = 'x' }\n")
    assert pytest_ini_profile(tmp_path, sub) == ("x", f"stack_profile in {sub / 'pyproject.toml'}")
