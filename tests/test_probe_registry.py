"""The probe registry: a probe a profile can name is one module of _engine/probes, declaring its
key, its value, how it runs and how it runs in a container. A new one, added as a module and
nothing else, is validated at its key, runs as a liveness probe and exports to Compose and
Kubernetes; the schema's probe keys are the registry's."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackfixtures import _project as projects
from stackfixtures._config.schema import LivenessSpec, ProbeTable, checked_table
from stackfixtures._define.container import ContainerProbe
from stackfixtures._engine import probes
from stackfixtures._engine.lifecycle import State
from stackfixtures._engine.probes import registry
from stackfixtures._export import compose, k8s
from stackfixtures.errors import ProfileError
from stackfixtures.kinds.command import ready_table

from .conftest import write_project

PATH_PROBE = '''
"""path: passes when a file exists (a service that says it is ready by writing one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stackfixtures._define.container import ContainerProbe
from stackfixtures._engine.probes.registry import ProbeType


@dataclass(frozen=True)
class PathProbe:
    path: str

    def describe(self) -> str:
        return f"path {self.path}"

    async def check(self, ctx) -> str | None:
        return None if Path(ctx.render(self.path)).exists() else "no such file yet"


def _parse(value: str) -> PathProbe:
    if not value.startswith(("/", "${")):
        raise ValueError(f"not an absolute path: {value!r}")
    return PathProbe(value)


PROBE = ProbeType(
    key="path",
    order=50,
    value=str,
    parse=_parse,
    container=lambda value, port, render: ContainerProbe("path", port, render(value)),
    compose=lambda p: ["CMD", "test", "-e", p.path],
    k8s=lambda p: {"exec": {"command": ["test", "-e", p.path]}},
    program=lambda value: "test",
)
'''

PROFILE = """
[services.app]
command = ["sh", "-c", "touch ${state_dir}/started; exec sleep 60"]
ready = { path = "${state_dir}/started" }
liveness = { path = "${state_dir}/alive", period = 0.05, timeout = 1, failure_threshold = 1 }
export = { image = "busybox:1.36", ready = { path = "/tmp/ready" } }
"""


@pytest.fixture
def path_probe(tmp_path: Path) -> Iterator[None]:
    """A new probe module in _engine/probes (on the package's path, as if its file were there)
    and nothing else changed; gone again afterwards."""
    folder = tmp_path / "more_probes"
    folder.mkdir()
    (folder / "path_probe.py").write_text(textwrap.dedent(PATH_PROBE))
    probes.__path__.append(str(folder))
    registry.types.cache_clear()
    try:
        yield
    finally:
        probes.__path__.remove(str(folder))
        sys.modules.pop(f"{probes.__name__}.path_probe", None)
        registry.types.cache_clear()


def test_the_schema_takes_the_registry_s_keys() -> None:
    keys = registry.keys()
    assert keys == ("tcp", "http", "grpc", "exec", "log")  # the check order of several keys
    assert ready_table() is checked_table(registry.fields())
    assert set(ready_table().model_fields) == {"timeout", *keys}
    assert set(checked_table(registry.fields(), LivenessSpec).model_fields) == {
        "timeout",
        "period",
        "failure_threshold",
        *keys,
    }


def test_a_probe_table_is_one_probe_or_all_in_check_order() -> None:
    probe = probes.from_spec({"log": "up", "tcp": 5432})
    assert isinstance(probe, probes.AllProbe)
    assert [p.describe() for p in probe.probes] == ["tcp 5432", "log /up/"]
    with pytest.raises(ValueError, match="a probe needs one of: tcp, http, grpc, exec, log"):
        probes.from_spec({})


def test_a_container_gets_the_most_thorough_check_it_can_run() -> None:
    def same(text: str) -> str:
        return text

    both = registry.container_probe({"tcp": 8000, "http": "/health"}, 8000, same)
    assert both is not None and (both.kind, both.path) == ("http", "/health")
    # an exec check runs the host's program: a container gets it only when nothing else runs
    http_exec = registry.container_probe({"http": "/health", "exec": ["pg_isready"]}, 8000, same)
    assert http_exec is not None and (http_exec.kind, http_exec.path) == ("http", "/health")
    tcp_exec = registry.container_probe({"tcp": 8000, "exec": "check"}, 8000, same)
    assert tcp_exec is not None and tcp_exec.kind == "tcp"
    only_exec = registry.container_probe({"exec": "check --now", "log": "up"}, 8000, same)
    assert only_exec is not None and only_exec.argv == ("check", "--now")
    assert registry.container_probe({"log": "ready"}, 8000, same) is None  # no container form


def test_a_probe_s_container_form_is_complete_and_asked_for_by_kind() -> None:
    tcp = registry.get("tcp")
    with pytest.raises(ValueError, match="says how Compose and Kubernetes run it"):
        registry.ProbeType("udp", 60, str, tcp.parse, container=tcp.container)
    with pytest.raises(ValueError, match="no probe says how a container runs it"):
        registry.compose_test(ContainerProbe("log", 8000))
    assert registry.k8s_action(ContainerProbe("tcp", 8000)) == {"tcpSocket": {"port": 8000}}


@pytest.mark.slow
@pytest.mark.usefixtures("path_probe")
async def test_a_new_probe_is_one_module(tmp_path: Path, make_stack: Any) -> None:
    assert registry.keys()[-1] == "path"

    stack = await make_stack(tmp_path, PROFILE)
    await stack.start()  # ready once the file its `ready = { path = ... }` names is there
    try:
        assert (stack.units["app"].ctx.state_dir / "started").exists()
        alive = stack.units["app"].ctx.state_dir / "alive"
        # it runs: no file, the liveness probe fails; the file written, it passes again
        await stack.wait_for("app", State.DEGRADED, timeout=30)
        alive.write_text("")
        await stack.wait_for("app", State.READY, timeout=30)
    finally:
        await stack.stop()

    # it exports: the Compose healthcheck and the Kubernetes probes are the module's
    proj = projects.load("dev", root=tmp_path)
    healthcheck = compose.document(proj)["services"]["app"]["healthcheck"]
    assert healthcheck["test"] == ["CMD", "test", "-e", "/tmp/ready"]
    [deployment] = [d for d in k8s.objects(proj)["app"] if d["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["exec"] == {"command": ["test", "-e", "/tmp/ready"]}
    live = ["test", "-e", "/data/alive"]  # ${state_dir} as the container sees it
    assert container["livenessProbe"]["exec"] == {"command": live}


@pytest.mark.usefixtures("path_probe")
def test_a_new_probe_s_mistakes_are_reported_at_its_key(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
[services.app]
command = ["sleep", "60"]
liveness = { path = "relative/alive" }
export = { image = "x", ready = { path = 1 } }
[services.other]
command = ["sleep", "60"]
liveness = { paht = "/alive" }
""",
    )
    with pytest.raises(ProfileError) as info:
        projects.load("dev", root=tmp_path)
    found = [(p.key, p.message) for p in info.value.problems]
    assert found == [
        ("services.app.liveness.path", "not an absolute path: 'relative/alive'"),
        ("services.app.export.ready.path", "wrong type (expected a string, found 1)"),
        ("services.other.liveness.paht", "unknown key; did you mean 'path'?"),
    ]


def test_profile_tables_before_the_registry_keep_what_is_written() -> None:
    table = ProbeTable.model_validate({"http": "/health", "timeout": 2})
    assert table.as_probe_dict() == {"http": "/health"}
