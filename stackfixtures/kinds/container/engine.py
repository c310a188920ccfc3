"""Talking to a Docker-API engine (Docker or Podman) through the docker SDK: the client, a
container's create-then-start, and the thread that follows its output and exit."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ...errors import KindUnavailable, StartError

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container as Running

DEFAULT_ENGINE = "unix:///var/run/docker.sock"
HOW_TO_GET_ONE = (
    "start Docker (or `podman system service`) and set DOCKER_HOST, or the service's "
    "`engine`, to its socket; on Debian: apt-get install docker.io && dockerd &"
)


def client(url: str, timeout: int = 30) -> docker.DockerClient:
    """A client of the engine at `url` (`timeout`: seconds one read may wait); KindUnavailable,
    saying how to get one, when there is none (or no docker SDK)."""
    try:
        import docker
    except ImportError:
        raise KindUnavailable(
            "the container kind needs the docker SDK: pip install 'stackfixtures[containers]'"
        ) from None
    try:
        made = docker.DockerClient(base_url=url, timeout=timeout)
        made.ping()
    except (docker.errors.DockerException, OSError, ValueError) as e:
        raise KindUnavailable(
            f"no container engine answers at {url} ({e}): {HOW_TO_GET_ONE}"
        ) from None
    return made


@contextlib.contextmanager
def closing(made: docker.DockerClient) -> Iterator[docker.DockerClient]:
    try:
        yield made
    finally:
        made.close()


class Streams:
    """The responses a client got (a hook on its session), so that another thread can shut
    their sockets down: a read blocked in one (a followed log, a pull's progress) returns at
    once, and the thread doing it goes on to its end. The socket is found the SDK's own way."""

    def __init__(self, made_by: docker.DockerClient) -> None:
        self._api = made_by.api
        self._lock = threading.Lock()
        self._seen: weakref.WeakSet[Any] = weakref.WeakSet()
        made_by.api.hooks["response"].append(self._saw)

    def _saw(self, response: Any, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self._seen.add(response)

    def cut(self) -> None:
        with self._lock:
            seen = list(self._seen)
        for response in seen:
            with contextlib.suppress(OSError, AttributeError, ValueError):
                raw = self._api._get_raw_response_socket(response)  # type: ignore[attr-defined]
                getattr(raw, "_sock", raw).shutdown(socket.SHUT_RDWR)


def bounded(made_by: docker.DockerClient, seconds: float) -> None:
    """Every read of this client's requests waits at most `seconds`, those the SDK sends with
    no timeout at all included (a pull's, which waits for the engine's first answer as long as
    the engine tries the registry)."""
    send = made_by.api.send

    def sending(request: Any, **how: Any) -> Any:
        if how.get("timeout") is None:
            how["timeout"] = seconds
        return send(request, **how)

    made_by.api.send = sending  # type: ignore[method-assign]


def follow(container: Running, say: Any) -> int:
    """Copy the container's output, line by line, to `say` until it ends (the engine's log
    stream ends with it), then its exit code (-1 if the engine cannot say). Blocks: run in a
    thread of its own (`in_own_thread`)."""
    import docker

    rest = b""
    with contextlib.suppress(docker.errors.DockerException, OSError, ValueError):
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                say(line.decode(errors="replace"))
    if rest:
        say(rest.decode(errors="replace"))
    try:
        return int(container.wait()["StatusCode"])
    except (docker.errors.DockerException, OSError, ValueError, KeyError):
        return -1


def in_own_thread(fn: Callable[..., int], *args: Any) -> asyncio.Future[int]:
    """`fn(*args)` in a thread of its own, its outcome as a future of the running loop. Not
    the loop's default pool (min(32, cpus + 4) threads): a thread that follows a container
    for its whole life there would starve every other `to_thread` once a few containers run.
    Its owner awaits the future (the thread ends with the container)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()

    def settle(value: int | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(value if value is not None else -1)

    def work() -> None:
        try:
            value, error = fn(*args), None
        except BaseException as e:  # handed to the loop, raised to the future's owner
            value, error = None, e
        with contextlib.suppress(RuntimeError):  # (the loop closed meanwhile: nobody waits)
            loop.call_soon_threadsafe(settle, value, error)

    what = getattr(args[0], "short_id", None) if args else None
    threading.Thread(target=work, name=f"{fn.__name__} {what or ''}", daemon=True).start()
    return done


def create_and_start(
    made_by: docker.DockerClient, name: str, url: str, image: str, **how: Any
) -> Running:
    """Create the container, then start it; one the engine created but could not start (a
    port, a missing program) is removed at once. StartError, in words, when refused."""
    import docker

    try:
        made = made_by.containers.create(image, **how)
    except docker.errors.ImageNotFound as e:
        why = f"image {image!r} not found on {url} ({e.explanation})"
        raise StartError(name, "starting", why) from None
    except docker.errors.APIError as e:
        raise StartError(
            name, "starting", f"the engine at {url} refused: {e.explanation}"
        ) from None
    try:
        made.start()
    except docker.errors.APIError as e:
        with contextlib.suppress(docker.errors.DockerException, OSError):
            made.remove(force=True, v=True)
        why = f"the engine at {url} cannot start it: {e.explanation}"
        raise StartError(name, "starting", why) from None
    return made
