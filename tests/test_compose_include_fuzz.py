"""Compose in, on generated compose files of every shape (Compose's keys, wrong types, nested
anyhow): each is read into services and problems, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stackfixtures._compose.document import read

from .compose_include_helpers import BOMB

KEYS = [
    *("image", "build", "command", "entrypoint", "environment", "env_file", "ports"),
    *("volumes", "healthcheck", "restart", "stop_signal", "stop_grace_period", "user"),
    *("working_dir", "deploy", "depends_on", "profiles", "expose", "networks", "context"),
    *("args", "test", "retries", "interval", "target", "published", "host_ip", "protocol"),
    *("condition", "type", "source", "read_only", "disable", "replicas", "required", "path"),
]
FORMS = ["80", "8080:80", "1.2.3.4:1:2", "a:/b", "./a:/b:ro", "1m5s", "on-failure:2", "no"]
FORMS += ["${X:-1}", "${a.b}", "$$", "${", "CMD", "NONE", "service_healthy", "x-y"]
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False),
    st.text(max_size=10),
    st.sampled_from(FORMS),
)
TREE = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
SERVICE = st.dictionaries(st.sampled_from(KEYS), TREE, max_size=6)
DOCUMENT = st.fixed_dictionaries(
    {"services": st.dictionaries(st.sampled_from(["a", "b", "c-d"]), SERVICE | TREE, max_size=3)},
    optional={"volumes": TREE, "networks": TREE, "x-common": TREE, "name": TREE},
)


def _recursive() -> dict[str, Any]:
    """`web: &w {labels: *w}` once dumped: a table inside itself."""
    web: dict[str, Any] = {"image": "x"}
    web["labels"] = web
    return {"services": {"a": web}}


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(DOCUMENT)
@example({"services": {"a": {"image": "x", "deploy": {"replicas": [1]}}}})  # found before
@example({"services": {"a": {"image": "x", "healthcheck": {"test": "x", "retries": {}}}}})
@example({"services": {"a": {"image": "x", "profiles": True}}})
@example(_recursive())  # review 24 #3: a RecursionError traceback
@example(BOMB)  # review 24 #3: a billion laughs kept `stack validate` busy for minutes
def test_any_compose_file_is_read_into_services_and_problems(doc: dict[str, Any] | str) -> None:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc)
    found = read(Path("/nowhere/compose.yaml"), text, Path("/nowhere"), {})
    for problem in found.problems:
        assert problem.file == "/nowhere/compose.yaml" and problem.message
    assert set(found.services) <= {"a", "b", "c_d"}
