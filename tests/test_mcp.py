"""`stack mcp` driven by the MCP SDK's own client over stdio (`stdio_client` + `ClientSession`),
against a real stack started by `stack up` in a tmp project: the tools listed, status, a
failing service's log tail (read and searched), its failed start as a tool error, a restart
(the pid changes, as `stack status --json` sees it), errors in the CLI's own words.

One stack is shared by the module's tests; its processes carry a mark of their own, checked
gone at the end."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from .cli_helpers import STACK, Output, run_stack
from .conftest import RUN_MARK, free_port, wait_gone, write_project
from .readme import blocks, section

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PROFILE = """
[services.good]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { http = "http://127.0.0.1:${port}/health" }
port = {PORT}

[services.api]   # the same server, through a URL with a password in it
external = "http://agent:pw-s3cret-25@127.0.0.1:{PORT}/health"
depends_on = ["good"]

[services.bad]   # says why, then exits 1 before it is ready; never restarted
command = ["{PY}", "-c", "print('bad: cannot reach the payments API', flush=True); exit(1)"]
ready = { tcp = "${port}" }
restart = { policy = "no" }
"""

SIDE = """
[services.idle]
command = ["sleep", "600"]
"""

LINE = "bad: cannot reach the payments API"
CLIENT = {"name": "test_mcp", "version": "1"}
MODULE_MARK = "I25_MCP_STACK"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project whose profile `shop` runs, with `good` and `api` started (not `bad`, which
    cannot start: `stack up` would stop everything)."""
    root = tmp_path_factory.mktemp("mcp")
    write_project(root, PROFILE.replace("{PORT}", str(free_port())), name="shop")
    os.environ[MODULE_MARK] = uuid.uuid4().hex
    env = {RUN_MARK: os.environ[MODULE_MARK]}  # (not a single test's: the autouse check)
    try:
        up = run_stack(["up", "good", "api", "--dashboard"], root, env=env, timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        yield root
    finally:
        run_stack(["down", "-p", "shop"], root, timeout=120)
        left = wait_gone(timeout=10, mark=MODULE_MARK)
        del os.environ[MODULE_MARK]
        assert not left, left


def configured() -> dict[str, Any]:
    """The README's snippet for an MCP client's configuration, as written."""
    snippet = blocks(section("### For coding agents (MCP)"), "json")[0]
    server: dict[str, Any] = json.loads(snippet)["mcpServers"]["stack"]
    assert server["command"] == ".venv/bin/stack"  # (the project's venv: here, the tests')
    return server


@asynccontextmanager
async def mcp_session(cwd: Path) -> AsyncIterator[ClientSession]:
    """`stack mcp` started by the SDK's client from `cwd`, as the README configures a client."""
    params = StdioServerParameters(command=STACK, args=configured()["args"], cwd=str(cwd))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def call(session: ClientSession, tool: str, **arguments: Any) -> Any:
    """A tool's JSON answer; the test fails with its words if it was an error."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return json.loads(text_of(result))


async def error_of(session: ClientSession, tool: str, **arguments: Any) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error, text_of(result)
    return text_of(result)


def pids(root: Path) -> dict[str, Any]:
    out = run_stack(["status", "--json", "-p", "shop"], root)
    assert out.returncode == 0, out.stderr
    return {s["name"]: s["pid"] for s in json.loads(out.stdout)["services"]}


async def test_an_agent_reads_why_a_service_failed_and_restarts_another(project: Path) -> None:
    async with mcp_session(project) as session:
        listed = {t.name for t in (await session.list_tools()).tools}
        assert {
            "list_stacks",
            "status",
            "read_logs",
            "search_logs",
            "read_events",
            "endpoint_env",
            "restart_service",
            "stop_services",
            "start_services",
            "render_report",
        } <= listed

        status = await call(session, "status")
        states = {s["name"]: s["state"] for s in status["services"]}
        assert states == {"good": "ready", "api": "ready", "bad": "pending"}
        assert "pw-s3cret-25" not in json.dumps(status)  # hidden, as people see it ...
        board = json.loads(run_stack(["status", "--json"], project).stdout)["stack"]["dashboard"]
        token = board.partition("?token=")[2]  # the dashboard's: whoever holds it steers
        assert token and token not in json.dumps(status), status["stack"]["dashboard"]
        assert "agent:***@" in [s["endpoint"] for s in status["services"]][1]
        stacks = (await call(session, "list_stacks"))["stacks"]
        assert [(s["profile"], s["services"]) for s in stacks] == [("shop", states)]

        # its start fails: a tool error that says why, in the CLI's words
        said = await error_of(session, "start_services", services=["bad"])
        assert said.startswith("error: ") and "bad" in said and "Traceback" not in said

        # the failing service's log tail holds its line, with a mark; a search finds it
        tail = await call(session, "read_logs", service="bad", lines=5)
        assert LINE in [said["line"] for said in tail["services"]["bad"]]
        found = await call(session, "search_logs", pattern=r"^bad: .*payments\s+API$", regex=True)
        assert [(m["service"], m["line"]) for m in found["matches"]] == [("bad", LINE)]
        mark = found["matches"][0]["mark"]
        after = await call(session, "read_logs", service="bad", since=mark)
        assert LINE not in [said["line"] for said in after["services"]["bad"]]
        resource = await session.read_resource("stack://shop/logs/bad")
        contents = resource.contents[0]
        assert isinstance(contents, types.TextResourceContents) and LINE in contents.text

        events = (await call(session, "read_events"))["events"]
        assert ("bad", "failed") in [(e["service"], e["to"]) for e in events]
        env = (await call(session, "endpoint_env"))["env"]  # ... but given to connect with
        assert env["GOOD_URL"].startswith("http://127.0.0.1:")
        assert env["API_URL"] == f"http://agent:pw-s3cret-25@127.0.0.1:{env['GOOD_PORT']}/health"

        # restart the good one: its pid changes, as the CLI sees it
        before = pids(project)["good"]
        restarted = await call(session, "restart_service", service="good")
        assert restarted["state"] == "ready" and restarted["pid"] not in (None, before)
        assert pids(project)["good"] == restarted["pid"]

        report = await call(session, "render_report")
        assert Path(report["path"]) == project / ".stack" / "shop" / "report.html"
        assert Path(report["path"]).is_file() and "bad: failed, 1 failure" in report["summary"]


async def test_errors_are_the_cli_words(project: Path, tmp_path: Path) -> None:
    cli = run_stack(["restart", "gods", "-p", "shop"], project)
    assert cli.returncode == 2 and "did you mean 'good'" in cli.stderr
    async with mcp_session(project) as session:
        said = await error_of(session, "restart_service", service="gods")
        assert said == cli.stderr.strip()
        said = await error_of(session, "endpoint_env", services=["gods"])
        assert said == cli.stderr.strip()
        said = await error_of(session, "search_logs", pattern="(", regex=True)
        assert said.startswith("error: not a regular expression: '('")
        said = await error_of(session, "read_logs", since=3)
        assert said == "error: `since` is a mark of one service's output: name `service` too"
        said = await error_of(session, "status", stack="nosuch")
        assert said.startswith("error: ") and "nosuch" in said

    # no stack running in a project: said as `stack status` says it
    write_project(tmp_path, PROFILE.replace("{PORT}", "1"), name="shop")
    cli = run_stack(["status"], tmp_path)
    assert cli.returncode == 4
    async with mcp_session(tmp_path) as session:
        assert await error_of(session, "status") == cli.stderr.strip()
        assert (await call(session, "list_stacks"))["stacks"] == []


async def test_a_regex_that_backtracks_forever_is_refused_in_time(project: Path) -> None:
    """`(.|.)+\\d` on the failing service's line backtracks 2**34 times in Python's `re`, holding
    the GIL: unbounded, the server answered nothing any more. It is refused in words, and the
    server answers the next call."""
    async with mcp_session(project) as session:
        with anyio.fail_after(60):  # (the bound is the server's: a few seconds)
            said = await error_of(session, "search_logs", pattern=r"(.|.)+\d", regex=True)
        assert said.startswith("error: the regular expression '(.|.)+\\\\d' took too long")
        with anyio.fail_after(30):
            assert (await call(session, "list_stacks"))["stacks"]


async def test_with_two_stacks_a_tool_names_one(project: Path) -> None:
    """Two stacks of the project run: a tool that names none says so, listing them, and
    how to name one; named by profile (or state dir), each answers for itself."""
    (project / "profiles" / "side.toml").write_text(SIDE)
    try:
        up = run_stack(["up", "-p", "side"], project, timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        async with mcp_session(project) as session:
            listed = (await call(session, "list_stacks"))["stacks"]
            assert sorted(s["profile"] for s in listed) == ["shop", "side"]
            said = await error_of(session, "status")
            assert said.startswith("error: 2 stacks are running; choose one")
            assert said.endswith(
                "(pass the tool's `stack` argument: a profile's name or a state dir (list_stacks))"
            )
            side = await call(session, "status", stack="side")
            assert [s["name"] for s in side["services"]] == ["idle"]
            where = str(project / ".stack" / "shop")
            shop = await call(session, "read_events", stack=where)
            assert {"good", "api"} <= {e["service"] for e in shop["events"]}
    finally:
        run_stack(["down", "-p", "side"], project, timeout=120)
        (project / "profiles" / "side.toml").unlink()


def test_the_cli_imports_the_sdk_only_for_stack_mcp(tmp_path: Path) -> None:
    """`stack --help` and the operating commands stay fast: no SDK imported; without the
    SDK, `stack mcp` says what to install (exit 1), no traceback; a mistyped profile is
    said at once (exit 2), as every command says it."""
    code = "import sys; from stackfixtures.cli import main; print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert not {"mcp", "pydantic", "anyio"} & set(ast.literal_eval(loaded.stdout))
    code = (
        "import sys; sys.modules['mcp'] = None; from stackfixtures.cli import main; main(['mcp'])"
    )
    missing = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert missing.returncode == 1
    assert (
        missing.stderr == "error: stack mcp needs the MCP SDK: pip install 'stackfixtures[mcp]'\n"
    )
    write_project(tmp_path, PROFILE.replace("{PORT}", "1"), name="shop")
    typo = run_stack(["mcp", "-p", "shpo"], tmp_path)
    assert typo.returncode == 2 and typo.stdout == ""
    assert typo.stderr.startswith("error: ") and "did you mean 'shop'" in typo.stderr


def test_nothing_but_the_protocol_on_stdout(tmp_path: Path) -> None:
    """On the wire, as a client sees it: each line of stdout is a JSON-RPC message, and a
    tool's error (no stack running) is an answer, not a crash (the SDK's log: stderr)."""
    write_project(tmp_path, PROFILE.replace("{PORT}", "1"), name="shop")
    hello = {"protocolVersion": types.LATEST_PROTOCOL_VERSION, "capabilities": {}}
    requests = [
        {"id": 1, "method": "initialize", "params": {**hello, "clientInfo": CLIENT}},
        {"method": "notifications/initialized"},
        {"id": 2, "method": "tools/call", "params": {"name": "status", "arguments": {}}},
        {"id": 3, "method": "tools/list"},
    ]
    with (tmp_path / "stderr").open("w") as err:
        proc = subprocess.Popen(
            [STACK, "mcp"],
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        wire = Output(proc)
        try:
            assert proc.stdin is not None
            for request in requests:
                proc.stdin.write(json.dumps({"jsonrpc": "2.0", **request}) + "\n")
            proc.stdin.flush()
            wire.wait_for('"id":2')  # (a call in flight when stdin closes is dropped)
            if not any('"id":3' in line for line in wire.lines):  # (answered first, if at once)
                wire.wait_for('"id":3')
            proc.stdin.close()
            assert wire.finish(timeout=30) == 0
        finally:
            wire.kill()
    answers = {m.get("id"): m for m in map(json.loads, wire.lines)}  # every line is JSON
    assert set(answers) == {1, 2, 3}
    assert answers[2]["result"]["isError"] is True
    said = answers[2]["result"]["content"][0]["text"]
    assert said == f"error: no stack is running with state dir {tmp_path / '.stack' / 'shop'}"
