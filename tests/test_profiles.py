"""Profiles: the documented shape loads; every mistake names the file and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackfixtures import _project as projects
from stackfixtures.errors import ProfileError

from .conftest import write_project

GOOD = """
[stack]
services = ["web"]

[services.db]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }
stop = { signal = "SIGTERM", grace = 5 }

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["db"]
env = { DB_PORT = "${db.port}" }
ready = { http = "http://127.0.0.1:${port}/health" }
"""


def test_documented_shape_loads(tmp_path: Path) -> None:
    write_project(tmp_path, GOOD)
    proj = projects.load("dev", root=tmp_path)
    assert proj.selected == ["web"]
    assert proj.graph.closure(["web"]) == ["db", "web"]
    web = proj.graph["web"]
    assert web.kind == "command" and web.env == {"DB_PORT": "${db.port}"}
    assert proj.graph["db"].stop_overrides == {"signal": "SIGTERM", "grace": 5}


def error_for(tmp_path: Path, text: str) -> ProfileError:
    path = write_project(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        projects.load("dev", root=tmp_path)
    assert info.value.file == str(path)
    assert str(path) in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[stack\nservices=[]", "", "invalid TOML"),
        ("[stack]\nservices = 'web'", "stack.services", "expected a list, found the string 'web'"),
        ("[stack]\nservice = ['web']", "stack.service", "unknown key"),
        (
            "[stack]\nservices = ['nope']\n[services.a]\ncommand = ['true']",
            "stack.services[0]",
            "unknown service 'nope'",
        ),
        (
            "[services.a]\ncommand = ['true']\nready = { tcpp = 1 }",
            "services.a.ready.tcpp",
            "unknown key",
        ),
        (
            "[services.a]\ncommand = ['true']\nstop = { signal = 'SIGNOPE' }",
            "services.a.stop.signal",
            "unknown signal",
        ),
        (
            "[services.a]\ncommand = ['true']\nstop = { grace = 'soon' }",
            "services.a.stop.grace",
            "not a duration",
        ),
        ("[services.a]\ncommand = ['true']\nbogus = 1", "services.a.bogus", "unknown key"),
        ("[services.a]\nkind = 'mystery'", "services.a.kind", "unknown kind 'mystery'"),
        ("[services.a]\nenv = { X = '1' }", "services.a", "no `kind`, no `command`"),
        ("[services.a]\ncommand = ['x', '${b.port}']", "services.a[1]", "not a dependency of 'a'"),
        (
            "[services.a]\ncommand = ['x', '${prot}']",
            "services.a[1]",
            "${prot} is not a known value",
        ),
        (
            "[services.a]\ncommand = ['x']\ndepends_on = ['ghost']",
            "services.a.depends_on",
            "'a' depends on 'ghost'",
        ),
        ("[services.a-b]\ncommand = ['x']", "services.a-b", "Python identifiers"),
        (
            "[services.a]\ncommand = ['x']\nready = { log = '(' }",
            "services.a.ready",
            "not a valid regex",
        ),
    ],
)
def test_mistakes_name_file_and_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    err = error_for(tmp_path, text)
    assert err.key.startswith(key.split("[")[0]), (err.key, key)
    assert problem in str(err)


def test_command_key_path_in_wiring_error(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[services.a]\ncommand = ['x', '${b.port}']")
    assert err.key == "services.a.command[1]"


def test_cycle_names_the_path(tmp_path: Path) -> None:
    err = error_for(
        tmp_path,
        """
[services.a]
command = ["x"]
depends_on = ["b"]
[services.b]
command = ["x"]
depends_on = ["a"]
""",
    )
    assert "a -> b -> a" in str(err)


def test_scope_mismatch(tmp_path: Path) -> None:
    err = error_for(
        tmp_path,
        """
[services.a]
command = ["x"]
scope = "function"
[services.b]
command = ["x"]
depends_on = ["a"]
""",
    )
    assert err.key == "services.b.scope" and "depends on function-scoped 'a'" in str(err)


def test_extends_merges_and_overrides(tmp_path: Path) -> None:
    write_project(tmp_path, GOOD, name="base")
    write_project(
        tmp_path,
        """
[stack]
extends = "base"
services = ["db"]
[services.db]
stop = { grace = 1 }
""",
        name="dev",
    )
    proj = projects.load("dev", root=tmp_path)
    assert proj.selected == ["db"]
    assert proj.graph["db"].stop_overrides == {"signal": "SIGTERM", "grace": 1}
    assert "web" in proj.graph


def test_missing_profile_lists_available(tmp_path: Path) -> None:
    write_project(tmp_path, GOOD)
    with pytest.raises(ProfileError, match=r"no such profile file \(profiles here: dev\)"):
        projects.load("prod", root=tmp_path)


def test_root_is_found_upward(tmp_path: Path) -> None:
    write_project(tmp_path, GOOD)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert projects.find_root(deep) == tmp_path.resolve()
