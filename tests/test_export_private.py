"""What `stack export` and `stack import compose` write may hold a secret (a password from the
environment or an env_file): written private, 0600, whatever the umask, never through a link
planted at the output's path (review 24, #4)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from .cli_helpers import run_stack
from .compose_include_helpers import including, write_compose

pytestmark = pytest.mark.slow  # runs the `stack` command

SECRET = "envsekrit55"
COMPOSE = """\
services:
  web:
    image: stackfixtures-test/busybox:1
    environment: {PASSWORD: "${DB_PASSWORD}"}
    env_file: [app.env]
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_exports_holding_a_password_are_private_and_follow_no_link(tmp_path: Path) -> None:
    write_compose(tmp_path / "profiles" / "compose.yaml", COMPOSE, check=False)
    (tmp_path / "profiles" / "app.env").write_text("APP_PASSWORD=filesekrit66\n")
    including(tmp_path)
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("untouched\n")
    out = tmp_path / "out.yaml"
    out.symlink_to(elsewhere)
    env = {"DB_PASSWORD": SECRET}
    done = run_stack(["export", "compose", "-p", "dev", "-o", str(out)], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert not out.is_symlink() and elsewhere.read_text() == "untouched\n"
    assert mode(out) == 0o600
    assert yaml.safe_load(out.read_text())["services"]["web"]["environment"]["PASSWORD"] == SECRET
    k8s = tmp_path / "k8s"
    done = run_stack(["export", "k8s", "-p", "dev", "-o", str(k8s)], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    files = list(k8s.iterdir())
    assert files and all(mode(f) == 0o600 for f in files), [(f, oct(mode(f))) for f in files]
    assert mode(k8s) == 0o700


def test_an_import_holding_an_env_file_value_is_private_and_says_so(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n  web:\n    image: stackfixtures-test/busybox:1\n    env_file: app.env\n"
    )
    (tmp_path / "app.env").write_text("APP_PASSWORD=filesekrit66\n")
    out = tmp_path / "profiles" / "dev.toml"
    done = run_stack(["import", "compose", str(compose), "-o", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "filesekrit66" in out.read_text()
    assert mode(out) == 0o600
    assert "APP_PASSWORD" in done.stderr and "0600" in done.stderr, done.stderr
