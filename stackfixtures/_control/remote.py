"""RemoteControl: the control protocol over a launcher's Unix socket.

One HTTP/1.1 exchange per request on a plain Unix socket (see `exchange`): operating commands
(`stack status`, `stack env`, ...) must answer at once, and an HTTP client library — httpx,
or even http.client, which imports ssl and email — takes longer to import than the rest of
such a command. For the same reason errors.py is imported where an error is raised: a request
that succeeds never loads the exception hierarchy.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from .._engine.cleanup import lock
from . import codec
from .endpoint import Endpoint, find, process_state, resume_hint, starting
from .unix import connected

if TYPE_CHECKING:
    from .._engine.events import Event
    from .._engine.lifecycle import State
    from .._engine.records import ServiceStop
    from .protocol import LogChunk

TransportError = (OSError,)
"""What a request to a launcher that is gone (or going) raises."""

CONNECT = 2.0
"""Seconds a launcher may take to accept a connection."""
ANSWER = 5.0
"""Seconds a launcher may take to answer a request that asks for no work (a status, a log
tail): it answers those from its event loop at once; one that does not is hung."""
REAPED = 3.0
"""Seconds `down` waits, once the launcher's lock is free, for its process to end (a zombie
has ended: its reaping, by a parent that may poll, is not waited for)."""
SLICE = 1.0
"""While a request waits for its answer: how often we look whether the launcher is stopped."""


def exchange(
    path: str,
    method: str,
    target: str,
    body: bytes | None,
    timeout: float,
    check: Callable[[], None] | None = None,
) -> tuple[int, str, bytes]:
    """One request on the launcher's Unix socket at `path`: (status, content type, body).
    TimeoutError after `timeout` seconds without the whole answer; `check` is called each
    SLICE seconds meanwhile (it raises to give up sooner, e.g. for a stopped launcher).

    Written by hand: the peer is always our own server (_control/http.py, h11), which answers
    every request with a status line, a content-type and a content-length, and closes the
    connection when asked; parsing that takes a dozen lines, where importing an HTTP client
    library would take most of an operating command's start-up time.
    """
    head = f"{method} {target} HTTP/1.1\r\nhost: stack\r\nconnection: close\r\n"
    if body is not None:
        head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
    timeout = max(timeout, 0.05)  # (0 would make the socket non-blocking)
    deadline = time.monotonic() + timeout
    with connected(path, min(CONNECT, timeout)) as sock:
        sock.sendall(head.encode() + b"\r\n" + (body or b""))
        answer = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer within {timeout:g}s")
            sock.settimeout(min(SLICE, left))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if check is not None:
                    check()
                continue
            if not chunk:
                break
            answer += chunk
    header, sep, data = bytes(answer).partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    if not sep or not lines[0].startswith("HTTP/1.1 "):
        raise ConnectionError(f"the launcher's answer was cut short ({len(answer)} bytes)")
    fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
    length = int(fields.get("content-length", len(data)))
    if len(data) < length:
        raise ConnectionError("the launcher's answer was cut short")
    return int(lines[0].split()[1]), fields.get("content-type", ""), data[:length]


def _q(name: str) -> str:
    """A service name as one path segment (any character it may hold, quoted)."""
    return quote(name, safe="")


class RemoteControl:
    """Talks to the launcher behind `endpoint`. Errors the launcher reports come back as the
    exceptions a local stack raises (UnknownService, ServiceError, ...) or ControlError."""

    def __init__(self, endpoint: Endpoint, timeout: float = 120.0, patient: bool = False) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.patient = patient  # retry a GET a live launcher was slow to answer (see _request)

    def _stuck(self) -> None:
        why = self.endpoint.stuck()
        if why is not None:
            from ..errors import LauncherStuck

            raise LauncherStuck(why + resume_hint(self.endpoint.pid))

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        body: Any,
        wait: float,
        limit: float | None = None,
    ) -> Any:
        """One request; `limit` bounds the wait for its answer (default: ANSWER seconds for
        a GET, self.timeout for an operation), `wait` the long poll it asks for on top.

        A patient control (a program's, e.g. the pytest plugin's, not a person's command)
        asks a GET again while the launcher is alive and not stopped, until self.timeout: a
        launcher whose loop is busy for a while on a loaded machine is slow, not hung. Only a
        GET: it asks for no work, so the unanswered first one does no harm."""
        mismatch = self.endpoint.mismatch()
        if mismatch and path != "/down":  # `down` is the same in every protocol: the fix
            from ..errors import ProtocolMismatch

            raise ProtocolMismatch(mismatch)
        target = f"{path}?{urlencode(params)}" if params else path
        payload = json.dumps(body).encode() if body is not None else None
        sock = str(self.endpoint.socket)
        bound = limit if limit is not None else ANSWER if method == "GET" else self.timeout
        retry = self.patient and method == "GET" and limit is None
        deadline = time.monotonic() + self.timeout + wait
        if method != "GET":
            # An operation sent to a stopped launcher waits in its socket and is carried out
            # the moment it is resumed, though we report that it failed: never send it.
            self._stuck()
        while True:
            left = deadline - time.monotonic()
            try:
                status, kind, data = exchange(
                    sock, method, target, payload, min(bound + wait, left), self._stuck
                )
                break
            except TimeoutError:
                self._stuck()
                if retry and deadline - time.monotonic() > 0 and self.endpoint.alive():
                    continue  # alive and running: slow, not hung
                waited = self.timeout + wait if retry else min(bound, self.timeout) + wait
                from ..errors import LauncherStuck

                raise LauncherStuck(
                    f"the launcher (pid {self.endpoint.pid}) did not answer {method} {path} "
                    f"within {waited:g}s; it may be hung (its log: "
                    f"{Path(self.endpoint.state_dir) / 'launcher.log'})"
                ) from None
        if kind.startswith("text/"):
            if status >= 400:
                from ..errors import ControlError

                raise ControlError(data.decode(), status)
            return data.decode()
        decoded = json.loads(data)
        if status >= 400:
            raise codec.error_from_json(decoded, status)
        return decoded

    def _get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, params, None, float(params.get("wait", 0)))

    def _post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        wait: float = 0.0,
        limit: float | None = None,
    ) -> Any:
        return self._request("POST", path, {}, body or {}, wait, limit)

    def status(self) -> dict[str, Any]:
        return dict(self._get("/status"))

    def state(self, name: str) -> State:
        from .._engine.lifecycle import State  # (the only answer that needs it)

        return State(self._get(f"/services/{_q(name)}/state")["state"])

    def handle(self, name: str) -> Any:
        return codec.handle_from_json(self._get(f"/handles/{_q(name)}")["handle"])

    def start(self, names: Sequence[str]) -> dict[str, Any]:
        """One request for them all: the engine starts them together, as a local one does."""
        reply = self._post("/start", {"names": list(names)})
        return {n: codec.handle_from_json(h) for n, h in reply["handles"].items()}

    def stop(self, names: Sequence[str] | None = None) -> list[ServiceStop]:
        reply = self._post("/stop", {"names": None if names is None else list(names)})
        return [codec.stop_from_json(s) for s in reply["stops"]]

    def restart(self, name: str) -> Any:
        return codec.handle_from_json(self._post(f"/services/{_q(name)}/restart")["handle"])

    def kill(self, name: str, signal: int | str = "SIGKILL", wait: float = 0.0) -> list[int]:
        body = {"signal": signal, "wait": wait}
        return list(self._post(f"/services/{_q(name)}/kill", body, wait)["signalled"])

    def pause(self, name: str) -> list[int]:
        return list(self._post(f"/services/{_q(name)}/pause")["signalled"])

    def resume(self, name: str) -> list[int]:
        return list(self._post(f"/services/{_q(name)}/resume")["signalled"])

    def scale(self, name: str, replicas: int) -> dict[str, str]:
        return dict(self._post("/scale", {"service": name, "replicas": replicas})["states"])

    def metrics(self) -> str:
        return str(self._get("/metrics"))

    def logs(
        self,
        names: Sequence[str] | None = None,
        n: int = 100,
        since: Mapping[str, int] | None = None,
        wait: float = 0.0,
    ) -> dict[str, LogChunk]:
        params: dict[str, Any] = {f"since.{k}": v for k, v in (since or {}).items()}
        if names is not None:
            params["names"] = ",".join(names)
        return dict(self._get("/logs", n=n, wait=wait, **params))

    def events(self, since: int = 0, wait: float = 0.0) -> list[Event]:
        from .._engine.events import Event

        return [Event.from_json(e) for e in self._get("/events", since=since, wait=wait)]

    def wait_for(self, name: str, state: str | State, timeout: float = 30.0) -> None:
        self._post(f"/services/{_q(name)}/wait", {"state": str(state), "timeout": timeout}, timeout)

    def reload(self) -> dict[str, Any]:
        return dict(self._post("/reload"))

    def down(self, timeout: float = 120.0, watch: Callable[[], None] | None = None) -> bool:
        """Ask the launcher to stop everything, then wait (up to `timeout` seconds) until it
        is gone: until its lock is free, which a zombie's is too, and which every PID
        namespace sees; `watch` is called while it waits (to note what it still runs).
        LauncherStuck when it is stopped (SIGSTOP) and cannot do it: found before the request
        is sent, nothing is asked of it (resuming it keeps the stack); found after, it says
        that the stop is queued."""
        from ..errors import LauncherStuck

        deadline = time.monotonic() + timeout
        self._stuck()  # found before the request: nothing is asked (_request checks too, but
        try:  # what it finds after this point is a launcher stopped once it was asked)
            return self._down(deadline, timeout, watch)
        except LauncherStuck:
            if self.endpoint.stuck() is None:  # hung, not stopped: as it said
                raise
            pid = self.endpoint.pid
            raise LauncherStuck(
                f"launcher pid {pid} was stopped (SIGSTOP?) after it was asked to stop the "
                f"stack: the stop is queued and happens once it resumes (`kill -CONT {pid}`); "
                "`stack down --force` kills it now"
            ) from None

    def _down(self, deadline: float, timeout: float, watch: Callable[[], None] | None) -> bool:
        try:
            self._post("/down", limit=min(ANSWER, timeout))
        except TransportError:
            # Gone already, or going: a launcher with nothing left to stop can close its
            # socket before its answer is out. Or the request never arrived: SIGTERM (the
            # same graceful stop in reverse order) to the very process (pid and start time).
            if not self.endpoint.alive():
                return True
            if self.endpoint.same_process():
                import signal

                with contextlib.suppress(OSError):
                    os.kill(self.endpoint.pid, signal.SIGTERM)
        return self.wait_gone(deadline, watch)

    def wait_gone(self, deadline: float, watch: Callable[[], None] | None = None) -> bool:
        """Whether the launcher is gone by `deadline` (time.monotonic()); LauncherStuck if it
        is found stopped meanwhile. `watch`: called each few looks while it is there. Gone is
        its lock free (which every PID namespace sees) and, in our namespace, its process
        ended: learnt from its pidfd at the instant it exits, not by a poll. Ended means a
        zombie too: its parent reaps it when it will (some inits only every second or so),
        but it runs nothing and holds nothing (its watchdog was reaped by it before)."""
        lock_path = lock.path_of(Path(self.endpoint.state_dir))
        ended = _pidfd(self.endpoint)
        try:
            n = 0
            while lock.alive(lock_path, self.endpoint.stack_id):
                if watch is not None and n % 4 == 0:
                    watch()
                if time.monotonic() >= deadline:
                    return False
                n += 1
                if n % 20 == 0:
                    self._stuck()
                _until(ended, min(0.05, max(0.0, deadline - time.monotonic())))
            # Its lock is free: it is exiting (the kernel lets go of its files first).
            settled = min(deadline, time.monotonic() + REAPED)
            if ended is not None:
                _until(ended, max(0.0, settled - time.monotonic()))
            else:  # no pidfd (another namespace, an old kernel): its state, briefly
                while self.endpoint.same_process() and time.monotonic() < settled:
                    if process_state(self.endpoint.pid) in ("Z", "X", None):
                        break
                    time.sleep(0.01)
            return True
        finally:
            if ended is not None:
                os.close(ended)

    def close(self) -> None:
        """Nothing to release: each request has a connection of its own."""

    def __enter__(self) -> RemoteControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pidfd(ep: Endpoint) -> int | None:
    """A pidfd of the launcher (readable once it exits), when it runs in our PID namespace
    (Linux >= 5.3); None otherwise."""
    if not ep.same_process():
        return None
    try:
        fd = os.pidfd_open(ep.pid)
    except (OSError, AttributeError):
        return None
    if not ep.same_process():  # (its pid was reused between the look and the open)
        os.close(fd)
        return None
    return fd


def _until(pidfd: int | None, seconds: float) -> None:
    """Sleep `seconds`, or less: until the process of `pidfd` exits."""
    if pidfd is None:
        time.sleep(seconds)
    else:
        import select  # (only `down` waits for a launcher to end)

        select.select([pidfd], [], [], seconds)


def connect(state_dir: Path, patient: bool = False) -> RemoteControl:
    """The control of the live stack using `state_dir`; NotRunning (saying why) otherwise.
    `patient`: for a program's use (see RemoteControl._request)."""
    endpoint, why = find(state_dir)
    if endpoint is None:
        from ..errors import LauncherStuck, NotRunning

        begun = starting(state_dir)
        if begun is not None and begun.stopped:
            raise LauncherStuck(str(begun))
        raise NotRunning(why)
    return RemoteControl(endpoint, patient=patient)
