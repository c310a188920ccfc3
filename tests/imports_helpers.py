"""What a process imported: a `stack` command run in a fresh interpreter (the click command
in-process, as the `stack` script runs it), then its `sys.modules` listed."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

RUN = """
import sys
from stackfixtures.cli import main
code = 0
try:
    main(sys.argv[2:], prog_name="stack")
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
modules = sorted(sys.modules)  # (before json: whether the command imported it is listed)
import json
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": modules}, f)
"""

HEAVY = frozenset(
    {
        "pydantic",
        "pydantic_core",
        "yaml",
        "httpx",
        "httpcore",
        "h11",
        "starlette",
        "uvicorn",
        "sse_starlette",
        "mcp",
        "grpc",
        "nats",
        "watchfiles",
        "textual",
        "rich",
        "docker",
        "prometheus_client",
        "tomli_w",
        "asyncio",
    }
)
"""Top-level packages no operating command needs (psutil: see each test)."""


@dataclass
class Ran:
    code: int
    modules: set[str]
    output: str

    def top(self) -> set[str]:
        """The top-level packages imported."""
        return {m.split(".")[0] for m in self.modules}

    def ours(self, package: str) -> set[str]:
        """The modules of `stackfixtures.<package>` imported (the package itself included)."""
        name = f"stackfixtures.{package}"
        return {m for m in self.modules if m == name or m.startswith(name + ".")}


def run_listing(args: list[str], cwd: Path, tmp: Path) -> Ran:
    """`stack ARGS` run in `cwd`, and what it imported."""
    out = tmp / "modules.json"
    out.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(out), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), done.stdout + done.stderr
    data = json.loads(out.read_text())
    return Ran(data["code"], set(data["modules"]), done.stdout + done.stderr)
