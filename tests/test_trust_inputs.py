"""Issue 21, items 2 and 9: nothing in a shared directory by a predictable
name (a planted symlink is refused, never followed), validation refuses what the runtime cannot
do (located, exit 2, no traceback). The dotenv half of item 7: test_trust_env_output.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cli_helpers import run_stack
from .conftest import write_project

WEB = """
[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }
"""


@pytest.fixture
def shared_tmp(tmp_path: Path) -> Path:
    """A world-writable sticky directory standing for /tmp (TMPDIR points the stack at it)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    return shared


def _sentinel(tmp_path: Path) -> Path:
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("precious\n")
    return sentinel


def _up_down(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`stack up` (then `stack down` if it came up) with `env`; the result of `up`."""
    up = run_stack(["up", "-p", "dev"], root, env=env)
    if up.returncode == 0:
        assert run_stack(["down", "-p", "dev"], root, env=env).returncode == 0
    return up


# --- item 2: the port leases --------------------------------------------------------------


@pytest.mark.slow
def test_symlinks_planted_at_the_old_shared_lease_names_are_never_followed(
    tmp_path: Path, shared_tmp: Path
) -> None:
    """A symlink at the predictable `stackfixtures-ports-v2-<uid>.tmp`/`.json` in /tmp used to
    be written through: root overwrote the file it pointed at."""
    sentinel = _sentinel(tmp_path)
    uid = os.getuid()
    for suffix in ("tmp", "json"):
        (shared_tmp / f"stackfixtures-ports-v2-{uid}.{suffix}").symlink_to(sentinel)
    (shared_tmp / f"stackfixtures-ports-v2-{uid}.json.lock").symlink_to("loop")
    (shared_tmp / "loop").symlink_to(f"stackfixtures-ports-v2-{uid}.json.lock")
    write_project(tmp_path / "p", WEB)
    up = _up_down(tmp_path / "p", {"TMPDIR": str(shared_tmp)})
    assert up.returncode == 0, up.stderr
    assert sentinel.read_text() == "precious\n"
    private = shared_tmp / f"stackfixtures-{uid}"
    assert (private / "ports.json").is_file() and not (private / "ports.json").is_symlink()
    assert oct(private.stat().st_mode & 0o777) == "0o700"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ports.json", "ports.json.lock"])
def test_a_symlink_at_the_lease_or_its_lock_is_refused_with_the_path(
    tmp_path: Path, shared_tmp: Path, name: str
) -> None:
    sentinel = _sentinel(tmp_path)
    private = shared_tmp / f"stackfixtures-{os.getuid()}"
    private.mkdir(mode=0o700)
    (private / name).symlink_to(sentinel)
    write_project(tmp_path / "p", WEB)
    up = _up_down(tmp_path / "p", {"TMPDIR": str(shared_tmp)})
    assert up.returncode == 3, up.stderr
    assert f"{private / name} is a symbolic link" in up.stderr
    assert "remove it" in up.stderr
    assert "Traceback" not in up.stderr and "Too many levels" not in up.stderr
    assert " at /" not in up.stderr  # no internal frame
    assert sentinel.read_text() == "precious\n"


@pytest.mark.slow
def test_a_private_dir_that_is_a_symlink_or_not_ours_is_refused(
    tmp_path: Path, shared_tmp: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (shared_tmp / f"stackfixtures-{os.getuid()}").symlink_to(elsewhere)
    write_project(tmp_path / "p", WEB)
    up = _up_down(tmp_path / "p", {"TMPDIR": str(shared_tmp)})
    assert up.returncode != 0
    assert f"{shared_tmp}/stackfixtures-{os.getuid()} is not a plain directory" in up.stderr
    assert "Traceback" not in up.stderr
    assert list(elsewhere.iterdir()) == []


@pytest.mark.slow
def test_the_ports_dir_variable_is_checked_as_private(tmp_path: Path, shared_tmp: Path) -> None:
    write_project(tmp_path / "p", WEB)
    up = _up_down(tmp_path / "p", {"STACKFIXTURES_PORTS_DIR": str(shared_tmp)})
    assert up.returncode == 3
    assert f"{shared_tmp} is writable by others" in up.stderr and "Traceback" not in up.stderr
    mine = tmp_path / "ports"
    up = _up_down(tmp_path / "p", {"STACKFIXTURES_PORTS_DIR": str(mine)})
    assert up.returncode == 0, up.stderr
    assert (mine / "ports.json").is_file() and oct(mine.stat().st_mode & 0o777) == "0o700"


def test_the_initdb_cache_is_private(tmp_path: Path) -> None:
    from stackfixtures.kinds.cache import cache_dir

    shared = tmp_path / "cache"
    shared.mkdir()
    shared.chmod(0o777)
    os.environ["STACKFIXTURES_CACHE"] = str(shared)
    try:
        with pytest.raises(Exception, match="writable by others"):
            cache_dir("postgres")
        shared.chmod(0o755)
        made = cache_dir("postgres")
        assert made == shared / "postgres"
        assert oct(shared.stat().st_mode & 0o777) == oct(made.stat().st_mode & 0o777) == "0o700"
        made.rmdir()
        made.symlink_to(tmp_path)
        with pytest.raises(Exception, match="not a plain directory"):
            cache_dir("postgres")
    finally:
        del os.environ["STACKFIXTURES_CACHE"]


# --- item 9: validation refuses what the runtime cannot do -----------------------------------


LONG = "a" * 300


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            f"[services.{LONG}]\ncommand = ['true']\n",
            f"profiles/dev.toml:1:11: services.{LONG}: a service name is at most 63 characters",
        ),
        (
            "[services.web]\ncommand = ['true']\nport = true\n",
            "profiles/dev.toml:3:1: services.web.port: wrong type (expected an integer, "
            "found true)",
        ),
        (
            "[services.web]\ncommand = ['true']\nreplicas = true\n",
            "profiles/dev.toml:3:1: services.web.replicas: wrong type",
        ),
        (
            "[services.cache]\nkind = 'redis'\ndatabases = true\n",
            "profiles/dev.toml:3:1: services.cache.databases: wrong type (expected an integer, "
            "found true)",
        ),
        (
            "[stack]\nparallelism = false\n[services.web]\ncommand = ['true']\n",
            "profiles/dev.toml:2:1: stack.parallelism: wrong type",
        ),
        (
            "[services.web]\ncommand = ['true']\nstart_timeout = true\n",
            "profiles/dev.toml:3:1: services.web.start_timeout: wrong type",
        ),
        (
            "[services.web]\ncommand = ['true']\nenv = { A = \"x\\u0000y\" }\n",
            "profiles/dev.toml:3:9: services.web.env.A: contains a NUL character",
        ),
        (
            '[services.web]\ncommand = ["tr\\u0000ue"]\n',
            "profiles/dev.toml:2:12: services.web.command[0]: contains a NUL character",
        ),
        (
            "[services.web]\ncommand = ['true']\nenv = { 'A=B' = 'x' }\n",
            "profiles/dev.toml:3:9: services.web.env.A=B: not a variable name",
        ),
        (
            "[stack]\nenv = { 'X;touch PWNED' = 'x' }\n[services.web]\ncommand = ['true']\n",
            "profiles/dev.toml:2:9: stack.env.X;touch PWNED: not a variable name",
        ),
        (
            "[services.web]\ncommand = ['true']\nstart_timeout = 1e12\n",
            "profiles/dev.toml:3:1: services.web.start_timeout: out of range",
        ),
        (
            "[services.web]\ncommand = ['true']\nstart_timeout = inf\n",
            "services.web.start_timeout: out of range",
        ),
        (
            "[services.web]\ncommand = ['true']\nstop = { grace = '99999999m' }\n",
            "profiles/dev.toml:3:10: services.web.stop.grace: out of range",
        ),
        (
            "[services.web]\ncommand = ['true']\nrestart = { delay = -1 }\n",
            "profiles/dev.toml:3:13: services.web.restart.delay: out of range",
        ),
        (
            "[services.web]\ncommand = ['true']\nready = { tcp = 1, timeout = 1e300 }\n",
            "services.web.ready.timeout: out of range",
        ),
    ],
    ids=[
        "long-name",
        "port-bool",
        "replicas-bool",
        "kind-option-bool",
        "parallelism-bool",
        "timeout-bool",
        "env-nul",
        "command-nul",
        "env-key",
        "stack-env-key",
        "absurd-timeout",
        "inf-timeout",
        "absurd-grace",
        "negative-delay",
        "absurd-probe",
    ],
)
def test_validate_and_up_refuse_what_the_runtime_cannot_do(
    tmp_path: Path, body: str, where: str
) -> None:
    write_project(tmp_path, body)
    for args in (["validate", "-p", "dev"], ["up", "-p", "dev"]):
        result = run_stack(args, tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        text = result.stderr.replace(str(tmp_path) + "/", "")
        assert where in text, text
        assert "Traceback" not in text
    assert not (tmp_path / ".stack").exists()


@pytest.mark.slow
def test_names_in_use_by_the_profiles_stay_valid(tmp_path: Path) -> None:
    name = "a" * 63
    write_project(tmp_path, f"[services.{name}]\ncommand = ['true']\ntask = true\n")
    result = run_stack(["validate", "-p", "dev"], tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", ["a" * 64, "has space", "dotted.name"])
def test_an_at_service_name_is_checked_too(tmp_path: Path, name: str) -> None:
    write_project(tmp_path, "[services.db]\ncommand = ['true']\n")
    (tmp_path / "conftest.py").write_text(
        f"import stackfixtures as sf\n\n\n@sf.service(name={name!r})\nasync def web(db):\n"
        "    yield sf.Handle(url='x')\n"
    )
    result = run_stack(["validate", "-p", "dev"], tmp_path)
    assert result.returncode == 2, result.stdout
    assert "conftest.py:5 in " in result.stderr and "Traceback" not in result.stderr
    assert "at most 63 characters" in result.stderr or "letters, digits" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_profile_that_is_not_a_regular_file_is_refused_before_reading(
    tmp_path: Path, device: str
) -> None:
    write_project(tmp_path, WEB)
    result = run_stack(["validate", "-p", device], tmp_path, timeout=20)
    assert result.returncode == 2
    assert f"{device}: not a regular file (a character device)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_profile_over_one_mib_is_refused(tmp_path: Path) -> None:
    path = write_project(tmp_path, WEB)
    with path.open("a") as f:
        f.write(("# " + "x" * 1000 + "\n") * 1100)
    result = run_stack(["validate", "-p", "dev"], tmp_path)
    assert result.returncode == 2
    assert f"{path}: too large ({path.stat().st_size} bytes; a profile is at most 1 MiB)" in (
        result.stderr
    )
    base = tmp_path / "profiles" / "base.toml"
    path.rename(base)
    path.write_text("[stack]\nextends = 'base'\n")
    result = run_stack(["validate", "-p", "dev"], tmp_path)
    assert result.returncode == 2 and f"{base}: too large" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("target", ["/dev/null", "file"])
def test_a_state_dir_that_is_not_a_directory_is_refused(tmp_path: Path, target: str) -> None:
    write_project(tmp_path, WEB)
    if target == "file":
        target = str(tmp_path / "file")
        Path(target).write_text("mine\n")
    result = run_stack(["up", "-p", "dev", "--state-dir", target], tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"state dir {target}: not a directory" in result.stderr
    assert "--state-dir" in result.stderr and "Traceback" not in result.stderr
    if target.endswith("file"):
        assert Path(target).read_text() == "mine\n"


@pytest.fixture
def read_only_project(tmp_path: Path) -> Iterator[Path]:
    """A project on a read-only mount (as root, a mode says nothing: only EROFS stops us)."""
    root = tmp_path / "ro"
    root.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    try:
        write_project(root, WEB)
        subprocess.run(["mount", "-o", "remount,ro", str(root)], check=True)
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=True)


@pytest.mark.slow
def test_a_read_only_project_says_where_state_could_go(
    read_only_project: Path, tmp_path: Path
) -> None:
    for args in (["validate", "-p", "dev"], ["up", "-p", "dev"]):
        result = run_stack(args, read_only_project)
        assert result.returncode == 2, result.stderr
        assert f"state dir {read_only_project}/.stack/dev: cannot be created" in result.stderr
        assert f"{read_only_project} is read-only" in result.stderr
        assert "pass --state-dir DIR" in result.stderr and "Traceback" not in result.stderr
    elsewhere = str(tmp_path / "state")
    up = run_stack(["up", "-p", "dev", "--state-dir", elsewhere], read_only_project)
    assert up.returncode == 0, up.stderr
    assert run_stack(["down", "--state-dir", elsewhere], read_only_project).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["down", "-p", "dev", "--timeout", "-1"],
        ["up", "-p", "dev", "--timeout", "-1"],
        ["up", "-p", "dev", "--timeout", "1e12"],
        ["exec", "-p", "dev", "--timeout", "0", "--", "true"],
    ],
)
def test_negative_or_absurd_cli_durations_are_refused(tmp_path: Path, args: list[str]) -> None:
    write_project(tmp_path, WEB)
    result = run_stack(args, tmp_path)
    assert result.returncode == 2
    assert "Invalid value for '--timeout'" in result.stderr
    assert not (tmp_path / ".stack").exists()


@pytest.mark.slow
def test_a_negative_line_count_is_refused(tmp_path: Path) -> None:
    write_project(tmp_path, WEB)
    result = run_stack(["logs", "-p", "dev", "-n", "-1"], tmp_path)
    assert result.returncode == 2 and "Invalid value for '-n' / '--lines'" in result.stderr
