"""container: a service that is a container of an image, run by a Docker-API engine.

    [services.web]
    kind = "container"
    image = "nginx:1.27"
    command = ["nginx", "-g", "daemon off;"]
    env = { GREETING = "hello" }
    ports = { "80" = "${port}" }          # container port -> host port (`${port}` or pinned)
    ready = { http = "http://127.0.0.1:${port}/" }
    stop = { signal = "SIGQUIT", grace = 5 }
    volumes = ["data:/var/lib/x", "./site:/www:ro"]   # named (in the state dir) or host paths
    healthcheck = { test = ["CMD", "true"], interval = 1.0 }  # or "image": the image's own
    # also: build = { context, dockerfile, args }, entrypoint (then `command` is its arguments),
    # user ("uid[:gid]"), workdir, engine = "auto" | "docker" | "podman" | URL

Ports are published on 127.0.0.1 only. The stop policy is the engine's stop (its signal, then
SIGKILL after the grace). The container's output goes into the service's log. Every container
carries the stack's labels and its engine is written in the stack's ledger first, so the
watchdog or a sweep removes it if the launcher dies. The engine is `engine` (engines.py: "auto",
"docker", "podman" or a URL); the docker SDK (`pip install stackfixtures[containers]`) speaks
to Docker and Podman alike.
"""

from .kind import CONTAINER, container
from .run import ContainerSpec, Started, running

__all__ = ["CONTAINER", "ContainerSpec", "Started", "container", "running"]
