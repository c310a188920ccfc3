"""The MCP server: the tools (tools.py) and each service's log as a resource, on stdio.

The SDK serves stdio with fd 1 pointed at stderr meanwhile, so nothing but the protocol
reaches stdout (a stray print, a child's output); its log goes to stderr too."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError, UnexpectedToolError
from mcp.types import (
    CallToolResult,
    InputRequiredResult,
    Resource,
    TextContent,
    ToolAnnotations,
)

from .._control.console import error_text
from ..errors import StackError
from .logs import ALL
from .stacks import Stacks
from .tools import Tools

LOG_URI = "stack://{stack}/logs/{service}"
"""A service's output: `stack://dev/logs/api` (the stack by its profile's name)."""

INSTRUCTIONS = (
    "Operate the backend stacks of this project (started with `stack up`): their services' "
    "states and why, logs (with search), state changes, endpoints, restarts, and the timeline "
    "report. With several stacks running, name one in a tool's `stack` argument."
)

READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
CHANGES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True)
STOPS = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)


class StackServer(MCPServer[Any]):
    """MCPServer whose resource list names each running service's log (the template alone
    says how to name one; a client browsing resources sees them all)."""

    def __init__(self, stacks: Stacks) -> None:
        super().__init__("stack", instructions=INSTRUCTIONS, version=version("stackfixtures"))
        self.stacks = stacks

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Any = None
    ) -> CallToolResult | InputRequiredResult:
        """A tool's answer; a ToolError the tool raised (a mistake worded as the CLI words it)
        is its result's text as it is: the SDK would put `Error executing tool NAME: ` first,
        which it still does for arguments that do not fit the tool's schema."""
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as e:
            if not isinstance(e.__cause__, ToolError):
                raise
            said = TextContent(type="text", text=str(e.__cause__))
            return CallToolResult(content=[said], is_error=True)

    async def list_resources(self) -> list[Resource]:
        listed = await super().list_resources()
        return listed + await anyio.to_thread.run_sync(self._logs)

    def _logs(self) -> list[Resource]:
        from .._control.remote import RemoteControl

        found = []
        for ep in self.stacks.running():
            try:
                with RemoteControl(ep) as control:
                    names = [s["name"] for s in control.status()["services"]]
            except (StackError, OSError):  # gone meanwhile: it has no logs to list
                continue
            for name in names:
                uri = LOG_URI.format(stack=ep.profile, service=name)
                found.append(
                    Resource(
                        uri=uri,
                        name=f"{ep.profile}/{name}",
                        description=f"the output of {name} (stack {ep.profile})",
                        mime_type="text/plain",
                    )
                )
        return found


def add(server: MCPServer[Any], fn: Callable[..., Any], annotations: ToolAnnotations) -> None:
    """`fn` as a tool, described by its docstring without the source's indentation."""
    server.add_tool(fn, description=inspect.cleandoc(fn.__doc__ or ""), annotations=annotations)


def build(stacks: Stacks) -> StackServer:
    server = StackServer(stacks)
    tools = Tools(stacks)
    for fn in (
        tools.list_stacks,
        tools.status,
        tools.read_logs,
        tools.search_logs,
        tools.read_events,
        tools.endpoint_env,
    ):
        add(server, fn, READS)
    add(server, tools.render_report, WRITES)
    add(server, tools.restart_service, CHANGES)
    add(server, tools.start_services, CHANGES)
    add(server, tools.stop_services, STOPS)

    @server.resource(LOG_URI, mime_type="text/plain", description="A service's output.")
    def service_log(stack: str, service: str) -> str:
        """The lines of `service` the running stack holds (its last 2000)."""
        try:
            with stacks.control(stack) as control:
                chunk = control.logs([service], n=ALL)[service]
        except (StackError, TimeoutError) as e:
            raise ResourceError(error_text(e)) from None
        return "".join(line + "\n" for line in chunk["lines"])

    return server


def serve(stacks: Stacks) -> None:
    """Serve on stdio until the client closes it."""
    build(stacks).run("stdio")
