"""A third-party kind, end to end: a package with its own kind (the README's example, so the
documented example is the tested one) installed into a fresh venv, registered through the
`stackfixtures.kinds` entry-point group, and used from a profile by `stack run`, by pytest and
by `stack export compose`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from . import readme
from .cli_helpers import Output

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

ROOT = Path(__file__).resolve().parent.parent
HELLO = "hello from a third-party kind\n"


@dataclass(frozen=True)
class Example:
    """The README's third-party kind: its entry points table, module name and source."""

    entry_points: str
    module: str
    source: str
    kind: str


def readme_example() -> Example:
    section = readme.section("### Third-party kinds")
    tomls, codes = readme.blocks(section, "toml"), readme.blocks(section, "python")
    assert tomls and codes, "README's Third-party kinds needs a ```toml and a ```python block"
    toml, code = tomls[0], codes[0]
    module = re.match(r"# (\w+)\.py\n", code)
    entry = re.search(r'^(\w+) = "(\w+):\w+"$', toml, re.M)
    assert module and entry, "the python block starts with '# MODULE.py'; the toml has name = ..."
    assert entry.group(2) == module.group(1)
    return Example(toml, module.group(1), code, entry.group(1))


def clean_env() -> dict[str, str]:
    """This environment without the outer pytest's and stack's own settings (the test-run
    markers stay: the leak check finds what these subprocesses' stacks leave)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "STACK_"))}


@dataclass(frozen=True)
class Installed:
    python: Path  # the temporary venv's interpreter
    project: Path  # a project whose profiles use the kind
    kind: str


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A venv that sees this environment's packages (through a .pth file: fast, no network)
    and has the example package installed the way a user would: pip, an entry point."""
    base = tmp_path_factory.mktemp("third_party")
    example = readme_example()
    package = base / "package"
    package.mkdir()
    (package / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools>=61", "wheel"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{example.module.replace("_", "-")}"
            version = "0.1.0"

            [tool.setuptools]
            py-modules = ["{example.module}"]

            """
        )
        + example.entry_points
    )
    (package / f"{example.module}.py").write_text(example.source)

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "stackfixtures_env.pth").write_text(f"{ours}\n{ROOT}\n")
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    pip = subprocess.run(
        [python, "-m", "pip", "install", "-q", *offline, str(package)],
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr

    project = base / "project"
    (project / "profiles").mkdir(parents=True)
    (project / "public").mkdir()
    (project / "public" / "hello.txt").write_text(HELLO)
    (project / "pyproject.toml").write_text("[project]\nname = 'uses-a-kind'\nversion = '0'\n")
    (project / "profiles" / "dev.toml").write_text(
        f'[services.site]\nkind = "{example.kind}"\ndirectory = "public"\n'
    )
    (project / "profiles" / "deploy.toml").write_text(
        textwrap.dedent(
            f"""\
            [services.site]
            kind = "{example.kind}"

            [services.fetch]
            command = ["sh", "-c", "wget -q -O- $SITE_URL"]
            depends_on = ["site"]
            env = {{ SITE_URL = "${{site.url}}" }}
            export = {{ image = "busybox:1.36" }}
            """
        )
    )
    return Installed(python, project, example.kind)


def test_stack_run_starts_the_kind(installed: Installed) -> None:
    proc = subprocess.Popen(
        [installed.python, "-m", "stackfixtures.cli", "run", "-p", "dev"],
        cwd=installed.project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(),
        start_new_session=True,
    )
    try:
        out = Output(proc)
        out.wait_for("NAME", start=True)
        row = out.wait_for("site ", start=True)
        url = next(word for word in row.split() if word.startswith("http://"))
        assert httpx.get(f"{url}/hello.txt").text == HELLO
        proc.send_signal(signal.SIGINT)
        assert out.finish(60) == 0, out.output
        assert "stopped 1 service gracefully" in out.output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_pytest_gets_the_kind_as_a_fixture(installed: Installed) -> None:
    (installed.project / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (installed.project / "test_site.py").write_text(
        textwrap.dedent(
            f"""\
            import urllib.request


            def test_the_site_serves_its_files(site):
                with urllib.request.urlopen(site.url + "/hello.txt") as response:
                    assert response.read().decode() == {HELLO!r}
                assert site.host == "127.0.0.1" and site.pid > 0
            """
        )
    )
    result = subprocess.run(
        [installed.python, "-m", "pytest", "-q", "--stack-profile", "dev", "test_site.py"],
        cwd=installed.project,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=100,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_export_and_stack_kinds_ask_the_kind(installed: Installed) -> None:
    def stack(*args: str) -> str:
        result = subprocess.run(
            [installed.python, "-m", "stackfixtures.cli", *args],
            cwd=installed.project,
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    services = yaml.safe_load(stack("export", "compose", "-p", "deploy"))["services"]
    site = services["site"]
    assert site["image"] == "python:3.12-slim"
    assert site["command"] == ["python", "-m", "http.server", "8000"]
    assert site["ports"] == ["127.0.0.1:8000:8000"] and site["stop_signal"] == "SIGTERM"
    assert "http://localhost:8000/" in " ".join(site["healthcheck"]["test"])
    fetch = services["fetch"]  # wired to the kind's container, as other containers see it
    assert fetch["environment"] == {"SITE_URL": "http://site:8000"}
    assert fetch["depends_on"]["site"]["condition"] == "service_healthy"

    listed = {k["name"]: k for k in json.loads(stack("kinds", "--json"))["kinds"]}
    kind = listed[installed.kind]
    assert kind["builtin"] is False and kind["export"] is True
    assert kind["handle"] == ["host", "port", "url", "pid"] and kind["options"] == ["directory"]
    assert "postgres" in listed
