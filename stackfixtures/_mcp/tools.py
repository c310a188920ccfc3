"""The tools `stack mcp` offers, each a thin use of the control protocol (what the CLI's
operating commands do, answered as JSON). Every mistake is a tool error worded as the CLI
words it (`error: unknown service 'dbb' (defined: db, web); did you mean 'db'?`), never a
traceback. Tools are plain functions: the SDK runs each in a worker thread, off its loop."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from .._control import codec
from .._control.console import error_text, went_away
from .._control.discover import none_running
from .._control.environment import endpoint_env
from .._control.remote import RemoteControl
from .._engine.masking import hidden
from .._report.of_stack import report, summary
from ..errors import NotRunning, RequestRefused, StackError
from . import logs
from .stacks import Stacks

StackArg = Annotated[
    str | None,
    Field(
        description="Which stack: its profile's name or its state dir (see list_stacks); "
        "default: the one `stack mcp` was started for, else the only one running"
    ),
]
ServiceArg = Annotated[str | None, Field(description="A service's name; default: every service")]
SinceArg = Annotated[
    int | None,
    Field(
        description="A mark of `service`'s output (from a line or `marks`): only what came after"
    ),
]
ServicesArg = Annotated[list[str], Field(description="Services' names")]


@contextlib.contextmanager
def worded() -> Iterator[None]:
    """A StackError (or a launcher that does not answer) as a tool error in the CLI's words."""
    try:
        yield
    except (StackError, TimeoutError) as e:
        raise ToolError(error_text(e)) from None


class Tools:
    """The tools, for the stacks of one project (`stacks`)."""

    def __init__(self, stacks: Stacks) -> None:
        self.stacks = stacks

    @contextlib.contextmanager
    def control(self, stack: str | None) -> Iterator[RemoteControl]:
        """The running stack meant (see stacks.py); errors worded (cli/common.py's control_for,
        for a tool)."""
        with worded():
            control = self.stacks.control(stack)
            try:
                yield control
            except TimeoutError:
                raise
            except OSError:  # its launcher went away meanwhile
                raise ToolError(went_away(control.endpoint.state_dir)) from None

    def list_stacks(self) -> dict[str, Any]:
        """Every stack running in this project: its profile, state dir, launcher pid, uptime
        and each service's state. Name one in other tools' `stack` argument (its profile,
        or its state dir) when several run."""
        found = []
        for ep in self.stacks.running():
            row: dict[str, Any] = {"profile": ep.profile, "state_dir": ep.state_dir}
            row["launcher_pid"] = ep.pid
            try:
                with RemoteControl(ep) as control:
                    status = control.status()
            except (StackError, OSError) as e:  # gone meanwhile, or hung: said, not fatal
                row["error"] = error_text(e)
            else:
                row["uptime_s"] = status["stack"].get("uptime_s")
                row["services"] = {s["name"]: s["state"] for s in status["services"]}
            found.append(row)
        if not found:
            return {"stacks": [], "note": str(none_running(self.stacks.root))}
        return {"stacks": found}

    def status(self, stack: StackArg = None) -> dict[str, Any]:
        """Each service's state, pid, endpoint, uptime, restarts, health, RSS, CPU, last exit
        code and `reason` (why it is in its state), as `stack status --json` gives them, but
        with passwords hidden (***): endpoint_env gives them."""
        with self.control(stack) as control:
            return dict(hidden(control.status()))

    def read_logs(
        self,
        service: ServiceArg = None,
        lines: int = 50,
        since: SinceArg = None,
        stack: StackArg = None,
    ) -> dict[str, Any]:
        """A service's output (every service's without `service`): its last `lines` lines,
        or with `since` (a mark, of `service`) only the lines written after it. Each line
        comes with its mark; `marks` is where each service's output ends now (pass it as
        `since` to read on)."""
        with self.control(stack) as control:
            names, marks = asked(service, since)
            chunks = control.logs(names, n=max(lines, 0), since=marks)
        return {
            "services": {name: logs.numbered(chunk) for name, chunk in chunks.items()},
            "marks": {name: chunk["mark"] for name, chunk in chunks.items()},
        }

    def search_logs(
        self,
        pattern: str,
        service: ServiceArg = None,
        regex: bool = False,
        ignore_case: bool = False,
        since: SinceArg = None,
        limit: int = 100,
        stack: StackArg = None,
    ) -> dict[str, Any]:
        """The lines of a service's output (every service's without `service`) that hold
        `pattern`: a substring, or with `regex` a Python regular expression. Searches what
        the running stack holds (the last 2000 lines of each service; older lines are in
        STATE_DIR/logs/), after `since` (a mark of `service`) if given. The last `limit`
        matches, each with its service and mark."""
        with self.control(stack) as control:
            hit = logs.matcher(pattern, regex, ignore_case)
            names, marks = asked(service, since)
            chunks = control.logs(names, n=logs.ALL, since=marks)
        with worded():  # (a regular expression that took too long)
            return logs.search(chunks, hit, limit)

    def read_events(self, since: int = 0, stack: StackArg = None) -> dict[str, Any]:
        """Every state change after the `since`-th (time, service, from, to, reason, and
        details such as exit_code); `next` is the `since` that reads on from here."""
        with self.control(stack) as control:
            events = control.events(since=max(since, 0))
        return {"events": [e.to_json() for e in events], "next": max(since, 0) + len(events)}

    def endpoint_env(
        self, services: list[str] | None = None, stack: StackArg = None
    ) -> dict[str, Any]:
        """The running stack's endpoints as environment variables (what `stack env` prints
        and `stack exec` gives its command): <NAME>_URL/_HOST/_PORT per service, the
        variables each kind's clients read (DATABASE_URL, REDIS_URL, ...), the profile's
        [stack.env]; only those of `services` if given. `notes` say what was left out."""
        from .._config.suggest import unknown_service

        with self.control(stack) as control:
            status = control.status()
            known = [s["name"] for s in status["services"]]
            for name in services or []:
                if name not in known:
                    raise unknown_service(name, known)
        env, notes = endpoint_env(status, services or None)
        return {"env": env, "notes": notes}

    def restart_service(self, service: str, stack: StackArg = None) -> dict[str, Any]:
        """Restart a service (its dependents follow their edges); returns once it is ready
        again, with its state and new pid."""
        with self.control(stack) as control:
            control.restart(service)
            rows = {s["name"]: s for s in control.status()["services"]}
        row = rows.get(service, {})
        return {"service": service, "state": row.get("state"), "pid": row.get("pid")}

    def stop_services(self, services: ServicesArg, stack: StackArg = None) -> dict[str, Any]:
        """Stop these services and what depends on them, gracefully, dependents first; how
        each stopped."""
        with self.control(stack) as control:
            return codec.stopped_to_json(control.stop(services))

    def start_services(self, services: ServicesArg, stack: StackArg = None) -> dict[str, Any]:
        """Start these services (and what they need) again, together; their states and
        handles once ready. A service that fails to start is an error that says why (its
        log's tail: read_logs). Passwords hidden (***): endpoint_env gives them."""
        with self.control(stack) as control:
            handles = control.start(services)
            states = {n: control.state(n) for n in services}
        return dict(hidden(codec.started_to_json(handles, states)))

    def render_report(self, stack: StackArg = None) -> dict[str, Any]:
        """The stack's timeline (what `stack report` writes: each service's states,
        restarts and failures, the startup's critical chain) as one HTML file in its state
        dir, from the running stack or, if none runs, the project's last run. The file's
        path and a summary in words."""
        with worded():
            where = self.stacks.last_run(stack)
            if where is None:
                raise NotRunning("no stack has run here (name one with the `stack` argument)")
            made = report(where)
            path = made.write()
        return {"path": str(path), "summary": summary(made)}


def asked(service: str | None, since: int | None) -> tuple[list[str] | None, dict[str, int]]:
    """The services and marks a log read asks for (`since` is a mark of one service's
    output: RequestRefused without `service`)."""
    if service is None:
        if since is not None:
            raise RequestRefused("`since` is a mark of one service's output: name `service` too")
        return None, {}
    return [service], {service: since} if since is not None else {}
