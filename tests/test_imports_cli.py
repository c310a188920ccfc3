"""The CLI's operating commands import only what talking to a running launcher needs: no
engine beyond a few pure, small modules, no kinds, no profile validation (pydantic), no YAML,
no HTTP library, no psutil (but `top`, which shows processes), no web server, SDK or bus
client. Each command runs in a fresh interpreter against a real stack (`stack up`), and its
`sys.modules` is listed: adding a top-level import of something heavy to a module on one of
these paths fails here.

Which engine modules may load, and why:
- `_engine.cleanup.lock`: whether a stack is alive is its state dir's lock's to say (fcntl);
- `_engine.lifecycle`, `_engine.records`: the protocol's values (State, ServiceStop);
- `_engine.masking`: status and logs mask passwords in URLs for people;
- `_engine.events` (`events`, `logs`): the protocol's Event (its log file's modules are not);
- `down` also sweeps crashed stacks (as every start does): the per-user registry of ledgers
  (`cleanup.ledger`, `.swept`, `.containers`: JSON files read; psutil only once a dead stack's
  processes are there to kill), `private_dirs`/`private_files`, and `_launcher`'s words for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import module_stack, write_project
from .imports_helpers import HEAVY, Ran, run_listing

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PROFILE = """
[stack.env]
WEB = "${web.url}"

[services.db]
command = ["sleep", "600"]

[services.web]
command = ["sleep", "600"]
depends_on = ["db"]
"""

PURE_ENGINE = frozenset(
    {
        "stackfixtures._engine",
        "stackfixtures._engine.cleanup",
        "stackfixtures._engine.cleanup.lock",
        "stackfixtures._engine.lifecycle",
        "stackfixtures._engine.records",
        "stackfixtures._engine.masking",
    }
)
ASKING = PURE_ENGINE - {"stackfixtures._engine.lifecycle", "stackfixtures._engine.records"}
"""What a command that only reads (status, env, logs) needs: no State, no stop records."""
EVENTS = frozenset({"stackfixtures._engine.events"})
SWEEP = frozenset(
    {
        "stackfixtures._engine.cleanup.ledger",
        "stackfixtures._engine.cleanup.swept",
        "stackfixtures._engine.cleanup.containers",
        "stackfixtures._engine.private_dirs",
        "stackfixtures._engine.private_files",
    }
)
LAUNCHER_WORDS = frozenset({"stackfixtures._launcher", "stackfixtures._launcher.options"})

COMMANDS: list[tuple[list[str], frozenset[str]]] = [
    (["status"], ASKING),
    (["status", "--json"], ASKING),
    (["ps"], ASKING),
    (["env"], ASKING),
    (["logs", "-n", "5"], ASKING),
    (["logs", "-n", "5", "web"], ASKING),
    (["events"], PURE_ENGINE | EVENTS),
    (["metrics"], PURE_ENGINE),
    (["top"], PURE_ENGINE),
    (["restart", "web"], PURE_ENGINE),
    (["stop", "web"], PURE_ENGINE),
    (["start", "web"], PURE_ENGINE),
    (["pause", "web"], PURE_ENGINE),
    (["resume", "web"], PURE_ENGINE),
    (["kill", "-s", "SIGCONT", "web"], PURE_ENGINE),
]


UNNEEDED = frozenset({"configparser", "difflib", "subprocess"})
"""Standard modules finding and asking a running stack needs none of: pytest's .ini files are
parsed only where the project has one (not here), "did you mean" only for a mistake, and no
operating command starts a process (cli/exec.py's `exec` does: `env` lives apart). (click
itself imports difflib for each short option it parses, `-n 5`: first tried as a long one.)"""

OWN_CLI = {
    "status": {"common", "operate"},
    "ps": {"common", "operate"},
    "env": {"common", "env"},
    "logs": {"common", "logs"},
}
"""The modules of cli/ an operating command loads: its own (and the options it shares)."""


SPARED = {
    "stackfixtures.errors": "the exception hierarchy: imported where an error is handled",
    "stackfixtures._problem": "errors.py's Problem (a frozen dataclass)",
    "dataclasses": "no dataclass is made on the way (the lock's Holding is a plain class)",
    "socket": "_control/unix.py connects with _socket: socket's enums cost 3 ms",
    "selectors": "socket's",
    "tomllib": "a profile that cannot set a state dir, a pyproject.toml without pytest's "
    "section: neither is parsed",
    "stackfixtures._config.read": "the full profile reader: only for `extends` or a mistake",
    "signal": "an exit code is named SIGKILL only when a signal ended the process",
}
"""What `stack status`, `env` and `logs -n 5` (issue 26: each within 3x a bare interpreter's
start) import no more, and why: one coming back fails here."""

SPARED_HELP = {"json", "stackfixtures.errors", "dataclasses", "signal", "socket", "tomllib"}
"""Nor does `stack --help`: it lists the commands from SHORT_HELP."""


def light(
    ran: Ran, engine: frozenset[str], psutil: bool = False, args: tuple[str, ...] = ()
) -> list[str]:
    """What `ran` (`stack ARGS`) imported that it should not have (empty: nothing)."""
    wrong = sorted(ran.top() & HEAVY)
    unneeded = set(UNNEEDED) - ({"subprocess"} if psutil else set())  # (psutil's own)
    if any(a.startswith("-") and not a.startswith("--") for a in args):
        unneeded.discard("difflib")
    wrong += sorted(ran.modules & unneeded)
    if "psutil" in ran.top() and not psutil:
        wrong.append("psutil")
    wrong += sorted(ran.ours("_engine") - engine)
    for package in ("kinds", "_project", "_config.load", "_config.schema", "_compose"):
        wrong += sorted(ran.ours(package))
    wrong += sorted(ran.ours("_launcher") - (LAUNCHER_WORDS if engine >= SWEEP else set()))
    for package in ("_dashboard", "_mcp", "_report", "_export", "_bench", "pytest_plugin"):
        wrong += sorted(ran.ours(package))
    return wrong


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("imports")
    with module_stack(root, "I26_IMPORTS_STACK", profile=PROFILE):
        yield root


def test_help_imports_no_command(tmp_path: Path) -> None:
    ran = run_listing(["--help"], tmp_path, tmp_path)
    assert ran.code == 0, ran.output
    assert "status" in ran.output and "Each service's state" in ran.output
    ours = {m for m in ran.modules if m.startswith("stackfixtures")}
    assert ours <= {
        "stackfixtures",
        "stackfixtures._lazy",
        "stackfixtures.cli",
        "stackfixtures.cli.common",
        "stackfixtures._control",
        "stackfixtures._control.exits",
    }, sorted(ours)
    assert not ran.top() & (HEAVY | {"psutil"}), sorted(ran.top() & (HEAVY | {"psutil"}))
    assert not ran.modules & SPARED_HELP, sorted(ran.modules & SPARED_HELP)


def test_operating_commands_import_only_what_they_need(root: Path, tmp_path: Path) -> None:
    for args, engine in COMMANDS:
        ran = run_listing(args, root, tmp_path)
        assert ran.code == 0, (args, ran.output)
        wrong = light(ran, engine, psutil=args == ["top"], args=tuple(args))
        assert not wrong, (args, wrong)
        if args == ["env"]:
            assert "export WEB=http://127.0.0.1:" in ran.output, ran.output  # [stack.env]
        if args[0] in OWN_CLI:
            assert ran.ours("cli") == {"stackfixtures.cli"} | {
                f"stackfixtures.cli.{m}" for m in OWN_CLI[args[0]]
            }, (args, sorted(ran.ours("cli")))
    for args in (["status"], ["env"], ["logs", "-n", "5"], ["status", "-p", "dev", "--json"]):
        ran = run_listing(args, root, tmp_path)
        assert ran.code == 0, (args, ran.output)
        back = {m: SPARED[m] for m in sorted(ran.modules & set(SPARED))}
        assert not back, (args, back)
    down = run_listing(["down"], root, tmp_path)
    assert down.code == 0, down.output
    assert "stopped 2 services gracefully" in down.output, down.output
    assert not light(down, PURE_ENGINE | SWEEP), light(down, PURE_ENGINE | SWEEP)


def test_finding_the_stack_of_a_profile_that_includes_compose_reads_no_yaml(
    tmp_path: Path,
) -> None:
    """Where a profile's stack keeps its state is its TOML's to say (and what it extends): the
    compose files it includes hold services only, so `stack status` reads none of them."""
    (tmp_path / "compose.yaml").write_text("services:\n  cache:\n    image: valkey/valkey:8\n")
    write_project(tmp_path, '[stack]\ninclude = ["../compose.yaml"]\nstate_dir = "run/here"\n')
    ran = run_listing(["status", "-p", "dev"], tmp_path, tmp_path)
    assert ran.code == 4, ran.output  # nothing runs there
    assert str(tmp_path / "run" / "here") in ran.output, ran.output
    assert "yaml" not in ran.top() and not ran.ours("_compose"), sorted(ran.ours("_compose"))
