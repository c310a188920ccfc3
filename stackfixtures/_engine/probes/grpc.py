"""grpc: passes when the standard health check (`grpc.health.v1.Health/Check`) answers SERVING.

`grpc = "${port}"` (or a port, or "host:port") asks for the server's overall health; a service
name after a slash (`"${port}/shop.Cart"`) asks for that service's. grpcio and its health
checking package are imported on the first check, never when a profile is read (the CLI does
not pay for them), and a profile that names the probe without them installed is a mistake
reported at its key. Each check opens a channel and closes it, so a probe holds nothing
between checks (the same probe checks every incarnation of its service, from whichever event
loop runs it). Like the tcp and http probes it connects directly: no proxy from the
environment, no TLS.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..._define.container import ContainerProbe
from ..context import ServiceContext
from .registry import ProbeType, Render
from .tcp import connect_shell, is_address

if TYPE_CHECKING:
    from grpc import StatusCode

INSTALL_HINT = "pip install 'stackfixtures[grpc]'"
MODULES = ("grpc", "grpc_health")
"""What the probe imports: grpcio and grpcio-health-checking."""


def missing() -> str | None:
    """Why the probe cannot run here (a module of the extra is not installed), or None."""
    absent = [m for m in MODULES if importlib.util.find_spec(m) is None]
    if not absent:
        return None
    return f"the grpc probe needs grpcio and grpcio-health-checking: {INSTALL_HINT}"


def split(target: str) -> tuple[str, str]:
    """`host:port/service` as (host:port, service); no slash: the server's overall health."""
    address, _, service = target.partition("/")
    return address, service


@dataclass(frozen=True)
class GrpcProbe:
    target: str = "${port}"  # "PORT", "HOST:PORT", either with "/SERVICE"; templates allowed
    timeout: float = 2.0

    def describe(self) -> str:
        return f"grpc {self.target}"

    def resolved(self, ctx: ServiceContext) -> str:
        return f"grpc {self.where(ctx)}"

    def where(self, ctx: ServiceContext) -> str:
        """HOST:PORT[/SERVICE] with the templates filled in and the host defaulted."""
        address, service = self.address(ctx)
        return f"{address}/{service}" if service else address

    def address(self, ctx: ServiceContext) -> tuple[str, str]:
        """(host:port, service) for this service."""
        address, service = split(ctx.render(self.target))
        host, _, port = address.rpartition(":")
        return f"{host or ctx.host}:{int(port)}", service

    async def check(self, ctx: ServiceContext) -> str | None:
        address, service = self.address(ctx)
        return await _ask(address, service, self.timeout)


async def _ask(address: str, service: str, timeout: float) -> str | None:
    """One Check on a channel of its own, closed before returning: None when SERVING, else
    the answer in words (the status it gave, or why there was none)."""
    import grpc  # on the first check: after the service was spawned, while it boots
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    request = health_pb2.HealthCheckRequest(service=service)
    channel = grpc.aio.insecure_channel(address, options=[("grpc.enable_http_proxy", 0)])
    stub: Any = health_pb2_grpc.HealthStub(channel)  # (its methods are made at run time)
    try:
        answer = await stub.Check(request, timeout=timeout)
    except grpc.aio.AioRpcError as e:
        return _failed(e.code(), e.details() or "", service, timeout)
    finally:
        await channel.close()
    if answer.status == health_pb2.HealthCheckResponse.SERVING:
        return None
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status))


def _failed(code: StatusCode, details: str, service: str, timeout: float) -> str:
    """A call that ended without an answer, in words. The health protocol answers NOT_FOUND
    for a service the server does not know (Check's form of SERVICE_UNKNOWN)."""
    import grpc

    if code is grpc.StatusCode.NOT_FOUND:
        return f"SERVICE_UNKNOWN (the server knows no service {service!r})"
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return "UNIMPLEMENTED (the server has no grpc.health.v1 health service)"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"no answer within {timeout:g}s"
    if code is grpc.StatusCode.UNAVAILABLE:
        return f"unreachable: {_why_unavailable(details)}"
    return f"{code.name}: {details}" if details else str(code.name)


def _why_unavailable(details: str) -> str:
    """grpc's words for a failed connection, in the other probes' words where they say the
    same (`failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1:
    Failed to connect to remote host: Connection refused`)."""
    lowered = details.lower()
    if "connection refused" in lowered:
        return "connection refused (nothing listens there)"
    if "connection reset" in lowered:
        return "connection reset by the other side"
    return details.rpartition("last error: ")[2] or "no connection"


def grpc(target: str | int = "${port}", timeout: float = 2.0) -> GrpcProbe:
    """Ready when `target` (a port, or host:port, optionally `/service`) answers the standard
    gRPC health check with SERVING. Needs grpcio and grpcio-health-checking (the `grpc`
    extra); ValueError when they are not installed."""
    why = missing()
    if why is not None:
        raise ValueError(why)
    return GrpcProbe(str(target), timeout)


def _parse(value: str | int) -> GrpcProbe:
    """A profile's `grpc = ...`: a port, `host:port` or a `${...}` that becomes one, and an
    optional `/service`."""
    address, service = split(str(value))
    if not is_address(address):
        raise ValueError(
            "expected a port, host:port or ${...} (e.g. ${port}), optionally with /SERVICE "
            f"(e.g. ${{port}}/shop.Cart), not {value!r}"
        )
    if "/" in service or (str(value).endswith("/") and not service):
        raise ValueError(f"expected one service name after the '/', not {value!r}")
    return grpc(value)


def _container(value: str | int, port: int | None, render: Render) -> ContainerProbe:
    address, service = split(render(str(value)))
    return ContainerProbe("grpc", int(address.rpartition(":")[2]), service=service)


def _compose(p: ContainerProbe) -> list[str]:
    """Compose has no gRPC check: grpc_health_probe where the image ships it (as many gRPC
    images do, from before Kubernetes had its own), else a TCP connect to the port."""
    service = f" -service={p.service}" if p.service else ""
    return [
        "CMD-SHELL",
        "if command -v grpc_health_probe >/dev/null 2>&1; then "
        f"grpc_health_probe -addr=localhost:{p.port}{service}; "
        f"else {connect_shell(p.port)}; fi",
    ]


def _k8s(p: ContainerProbe) -> dict[str, Any]:
    """Kubernetes's own gRPC probe (the standard health check, like this one)."""
    action: dict[str, Any] = {"port": p.port}
    if p.service:
        action["service"] = p.service
    return {"grpc": action}


PROBE = ProbeType(
    key="grpc",
    order=25,
    value=str | int,
    parse=_parse,
    container=_container,
    compose=_compose,
    k8s=_k8s,
    export_rank=25,
)
"""`ready = { grpc = "${port}" }` (or a port, or "host:port"; `"${port}/SERVICE"` for one
service's health)."""
