"""Issue 15, before anything starts: every mistake of a profile at once, each at
file:line:column with its key path, what was expected and found, and a "did you mean"."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from stackfixtures import _project as projects
from stackfixtures.errors import DefinitionError, ProfileError, ServiceDefinitionError

from .cli_helpers import run_stack
from .conftest import write_project


def problems(tmp_path: Path, text: str) -> list[str]:
    """Every problem `project.load` reports for profile `text`, as written for people."""
    write_project(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        projects.load("dev", root=tmp_path)
    return [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems]


def test_three_mistakes_are_all_reported_in_order_with_suggestions(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
[stack]
servics = ["web"]

[services.db]
command = ["true"]

[services.web]
command = ["true"]
depens_on = ["db"]
ready = { tcpp = "${port}" }
""",
    )
    assert found == [
        "profiles/dev.toml:2:1: stack.servics: unknown key; did you mean 'services'?",
        "profiles/dev.toml:9:1: services.web.depens_on: unknown key; did you mean 'depends_on'?",
        "profiles/dev.toml:10:11: services.web.ready.tcpp: unknown key; did you mean 'tcp'?",
    ]


def test_error_keeps_the_first_problem_fields_and_str_shows_all(tmp_path: Path) -> None:
    path = write_project(tmp_path, "[stack]\nservics = 1\n[services.a]\ncommand = []\n")
    with pytest.raises(ProfileError) as info:
        projects.load("dev", root=tmp_path)
    err = info.value
    assert (err.file, err.key, err.line, err.column) == (str(path), "stack.servics", 2, 1)
    assert err.problem == "unknown key; did you mean 'services'?"
    assert str(err).splitlines() == [
        f"{path}:2:1: stack.servics: unknown key; did you mean 'services'?",
        f"{path}:4:1: services.a.command: must not be empty "
        "(expected at least one item, found an empty list)",
    ]


@pytest.mark.parametrize("kind", ["", 'kind = "command"\n'])
def test_a_misspelt_command_is_named_not_its_symptom(tmp_path: Path, kind: str) -> None:
    found = problems(tmp_path, f'[services.hello]\n{kind}commnd = ["echo", "hi"]\n')
    line = 3 if kind else 2
    assert found == [
        f"profiles/dev.toml:{line}:1: services.hello.commnd: unknown key; did you mean 'command'?"
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("command = []", "services.a.command: must not be empty"),
        ('command = "  "', "services.a.command: must not be empty"),
        ('command = [" ", "x"]', "services.a.command: its first item, the program, must not be"),
        ('command = ["x"]\nready = { exec = ["", "y"] }', "exec: its first item, the program"),
        ('command = ["x"]\nready = { http = "" }', "services.a.ready.http: must not be empty"),
        ('command = ["x"]\nstop = { grace = 0 }', "expected a duration greater than 0"),
        ('command = ["x"]\nstop = { grace = "-1s" }', "expected a duration greater than 0"),
        ('command = ["x"]\nstart_timeout = -5', "expected greater than 0, found -5"),
        ('command = ["x"]\nrestart = { delay = 0 }', "services.a.restart.delay: out of range"),
        ('command = ["x"]\nliveness = { tcp = 1, period = 0 }', "services.a.liveness.period"),
        ('command = ["x"]\nkind = ""', "services.a.kind: must not be empty"),
        ('command = ["x"]\nready = { exec = [] }', "services.a.ready.exec: must not be empty"),
        ('command = "echo \'unclosed"', "cannot split it like a shell line"),
        ('command = ["x"]\nready = { tcp = "x" }', "services.a.ready.tcp: expected a port"),
        ('command = ["x"]\nready = { tcp = 70000 }', "services.a.ready.tcp: expected a port"),
        ('command = ["x"]\nliveness = { tcp = "h:p" }', "services.a.liveness.tcp: expected a port"),
    ],
)
def test_empty_values_and_durations_are_errors(tmp_path: Path, body: str, expected: str) -> None:
    found = problems(tmp_path, f"[services.a]\n{body}\n")
    assert any(expected in p for p in found), found
    assert all(p.startswith("profiles/dev.toml:") for p in found)


def test_an_empty_argument_after_the_program_is_an_argument(tmp_path: Path) -> None:
    """As in a shell and in Compose: `valkey-server --save ""` turns snapshots off."""
    write_project(tmp_path, '[services.a]\ncommand = ["valkey-server", "--save", ""]\n')
    config = projects.load("dev", root=tmp_path).graph["a"].config
    assert config["command"] == ["valkey-server", "--save", ""], config


def test_wrong_types_say_expected_and_found(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '[stack]\nparallelism = "four"\n[services.a]\ncommand = ["x"]\nready = { tcp = [1] }\n'
        'restart = { policy = "on_failure" }\n',
    )
    assert found == [
        "profiles/dev.toml:2:1: stack.parallelism: wrong type "
        "(expected an integer, found the string 'four')",
        "profiles/dev.toml:5:11: services.a.ready.tcp: wrong type "
        "(expected a string or an integer, found a list)",
        "profiles/dev.toml:6:13: services.a.restart.policy: not one of the choices (expected "
        "'no', 'on-failure' or 'always', found the string 'on_failure'); did you mean "
        "'on-failure'?",
    ]


def test_unknown_keys_at_every_level_get_a_suggestion(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
[servces.x]
[stack]
parallelsm = 2
[services.db]
kind = "redis"
databses = 4
[services.a]
command = ["x"]
depends_on = ["db"]
stop = { signl = "SIGTERM" }
restart = { max_restart = 1 }
liveness = { tcp = 1, perod = 2 }
export = { imag = "x" }
envv = { A = "1" }
""",
    )
    hints = [p.split(": ", 2)[1:] for p in found]
    assert hints == [
        ["servces", "unknown key; did you mean 'services'?"],
        ["stack.parallelsm", "unknown key; did you mean 'parallelism'?"],
        ["services.db.databses", "unknown key; did you mean 'databases'?"],
        ["services.a.stop.signl", "unknown key; did you mean 'signal'?"],
        ["services.a.restart.max_restart", "unknown key; did you mean 'max_restarts'?"],
        ["services.a.liveness.perod", "unknown key; did you mean 'period'?"],
        ["services.a.export.imag", "unknown key; did you mean 'image'?"],
        ["services.a.envv", "unknown key; did you mean 'env'?"],
    ]


def test_templates_are_checked_against_dependencies_and_handle_fields(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
[services.db]
kind = "postgres"
[services.cache]
kind = "redis"
[services.web]
command = ["x", "${prot}"]
depends_on = ["db"]
env = { DSN = "${db.dsnn}", R = "${cache.url}", T = "${db.dsn" }
""",
    )
    assert found == [
        "profiles/dev.toml:6:17: services.web.command[1]: ${prot} is not a known value; did "
        "you mean 'port'? (use one of ${data_dir}, ${host}, ${name}, ${port}, ${root}, "
        "${state_dir} or ${service.attribute})",
        "profiles/dev.toml:8:9: services.web.env.DSN: ${db.dsnn}: the handle of 'db' "
        "(postgres) has no 'dsnn'; did you mean 'dsn'? (it has: host, port, user, dbname, dsn, "
        "url, socket_dir, version, template, template_id, data_dir, pid)",
        "profiles/dev.toml:8:29: services.web.env.R: ${cache.url} refers to 'cache', which is "
        "not a dependency of 'web' (add 'cache' to depends_on)",
        "profiles/dev.toml:8:49: services.web.env.T: '${db.dsn' is not a template: write "
        "${name} or ${service.attribute} (or $${ for a literal ${)",
    ]


def test_a_mistake_in_an_extended_profile_is_placed_in_that_file(tmp_path: Path) -> None:
    write_project(tmp_path, '[services.db]\ncommand = ["x"]\nstop = { grace = "soon" }\n', "base")
    found = problems(tmp_path, '[stack]\nextends = "base"\n[services.web]\ncommand = ["x"]\n')
    assert found == [
        "profiles/base.toml:3:10: services.db.stop.grace: not a duration: 'soon' "
        "(use seconds, or '500ms', '5s', '1m')"
    ]


def test_unreadable_files_are_located(tmp_path: Path) -> None:
    path = write_project(tmp_path, "")
    path.write_bytes(b'[services.a]\ncommand = ["\xff"]\n')
    with pytest.raises(ProfileError) as info:
        projects.load("dev", root=tmp_path)
    assert str(info.value) == f"{path}:2:13: not UTF-8 text (byte 0xff cannot be decoded)"
    path.write_text("[services.a]\ncommand = [\n")
    with pytest.raises(ProfileError, match=r"dev\.toml:3:1: invalid TOML: .*end of the file"):
        projects.load("dev", root=tmp_path)
    write_project(tmp_path, '[stack]\nextends = "nowhere"\n')
    with pytest.raises(ProfileError, match=r"dev\.toml:2:1: stack\.extends: .*no such profile"):
        projects.load("dev", root=tmp_path)


def write_conftest(root: Path, text: str) -> None:
    (root / "conftest.py").write_text(textwrap.dedent(text))


CONFTEST = """\
import stackfixtures as sf


@sf.service
async def web(
    ctx,
    postgress,
):
    yield sf.Handle(url="x")


@sf.service
async def reports(cache):
    yield sf.Handle(url="y")
"""


def test_a_parameter_typo_is_reported_at_its_line_in_conftest(tmp_path: Path) -> None:
    write_conftest(tmp_path, CONFTEST)
    write_project(tmp_path, '[stack]\nservices = ["web"]\n[services.postgres]\ncommand = ["x"]\n')
    with pytest.raises(ServiceDefinitionError) as info:
        projects.load("dev", root=tmp_path)
    assert str(info.value) == (
        "conftest.py:7 in web: parameter 'postgress' names no service; did you mean 'postgres'?"
    )


def test_only_the_selected_closure_is_held_against_the_profile(tmp_path: Path) -> None:
    write_conftest(tmp_path, CONFTEST.replace("postgress", "postgres"))
    write_project(
        tmp_path, '[stack]\nservices = ["web"]\n[services.postgres]\ncommand = ["true"]\n'
    )
    write_project(tmp_path, '[services.cache]\ncommand = ["x"]\n', "reporting")
    proj = projects.load("dev", root=tmp_path)
    assert proj.graph.names == ["web", "postgres"]
    assert proj.aside == {
        "reports": "conftest.py:13 in reports: parameter 'cache' names no service (defined: "
        "postgres, web); profile reporting defines it; pick a profile: `-p NAME` (or "
        "STACK_PROFILE) for a stack command, or for pytest `--stack-profile NAME` or the ini "
        "option `stack_profile`"
    }
    with pytest.raises(DefinitionError, match=r"service 'reports' cannot run: conftest\.py:13"):
        proj.check_runnable(["reports"])
    with pytest.raises(ServiceDefinitionError, match=r"conftest\.py:13 in reports"):
        projects.load("dev", root=tmp_path, services=["reports"])


def test_without_a_profile_an_undefined_dependency_says_how_to_pick_one(tmp_path: Path) -> None:
    write_conftest(tmp_path, CONFTEST.replace("postgress", "postgres"))
    write_project(tmp_path, '[services.postgres]\ncommand = ["x"]\n', "dev")
    with pytest.raises(ServiceDefinitionError) as info:
        projects.load(None, root=tmp_path)
    first = str(info.value).splitlines()[0]
    assert first.startswith("conftest.py:7 in web: parameter 'postgres' names no service")
    assert "profile dev defines it" in first
    assert "`--stack-profile NAME` or the ini option `stack_profile`" in first
    assert first.endswith("(profiles here: dev)")


@pytest.mark.slow
@pytest.mark.parametrize("command", [["validate"], ["up"], ["run", "--no-tui"], ["exec", "true"]])
def test_a_command_with_no_profile_named_lists_the_profiles(
    tmp_path: Path, command: list[str]
) -> None:
    """The most common slip: `stack up` where `stack up -p dev` was meant. Not an empty stack
    that exits 0, but exit 2 and the profiles to pick from."""
    write_project(tmp_path, '[services.db]\ncommand = ["x"]\n', "dev")
    write_project(tmp_path, '[services.db]\ncommand = ["x"]\n', "ci")
    result = run_stack(command, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no services: no profile named" in result.stderr
    assert result.stderr.rstrip().endswith("(profiles here: ci, dev)")
    assert not (tmp_path / ".stack").exists()  # nothing was started, nothing left


@pytest.mark.slow
def test_a_profile_without_services_says_so(tmp_path: Path) -> None:
    path = write_project(tmp_path, "[stack]\nparallelism = 2\n", "dev")
    result = run_stack(["up", "-p", "dev"], tmp_path)
    assert result.returncode == 2
    assert f"{path}: defines no services" in result.stderr


@pytest.mark.slow
def test_validate_lists_the_closure_and_reports_all_problems_in_json(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        '[stack]\nservices = ["web"]\n[services.db]\ncommand = ["true"]\n'
        '[services.web]\ncommand = ["true"]\ndepends_on = ["db"]\n'
        '[services.other]\ncommand = ["x"]\n',  # not selected: its missing program is not held
    )
    ok = run_stack(["validate", "-p", "dev"], tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0].endswith("dev.toml: 2 services: db, web")
    path = write_project(tmp_path, "[stack]\nservics = 1\n[services.a]\ncomand = ['x']\n")
    bad = run_stack(["validate", "-p", "dev", "--json"], tmp_path)
    assert bad.returncode == 2
    reply = json.loads(bad.stdout)
    assert reply["key"] == "stack.servics" and reply["file"] == str(path)
    assert [(p["line"], p["column"], p["key"]) for p in reply["problems"]] == [
        (2, 1, "stack.servics"),
        (4, 1, "services.a.comand"),
    ]
    text = run_stack(["validate", "-p", "dev"], tmp_path)
    assert text.stderr.splitlines() == [
        f"{path}:2:1: stack.servics: unknown key; did you mean 'services'?",
        f"{path}:4:1: services.a.comand: unknown key; did you mean 'command'?",
        "error: 2 problems, listed above",
    ]
