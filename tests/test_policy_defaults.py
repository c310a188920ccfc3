"""One set of defaults per policy: _define/policies.py's dataclasses hold them; a profile's
tables, the Python helpers (`sf.restart()`, `sf.liveness()`, `sf.stop()`) and the README say
the same. Pure: nothing is started."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import stackfixtures as sf
from stackfixtures import _project as projects
from stackfixtures._config.schema import (
    LivenessSpec,
    LogsSpec,
    ProbeTable,
    RestartSpec,
    StackSpec,
    StopSpec,
)
from stackfixtures._define.policies import (
    NO_RESTART,
    LivenessPolicy,
    LogLimit,
    RestartPolicy,
    StopPolicy,
    parse_signal,
    parse_size,
)
from stackfixtures._define.service import DEFAULT_PARALLELISM, DEFAULT_START_TIMEOUT

from .conftest import write_project
from .readme import blocks, section

PAIRS: list[tuple[type[BaseModel], Any]] = [
    (RestartSpec, RestartPolicy),
    (LivenessSpec, LivenessPolicy),
    (StopSpec, StopPolicy),
    (LogsSpec, LogLimit),
]
CODE_ONLY = {"action", "probe"}
"""Fields a profile sets otherwise (the probe keys of `liveness`) or not at all (a stop action)."""
NORMAL = {"signal": parse_signal, "max_size": parse_size}
"""How a table's default compares with its dataclass's: written as in a profile."""


@pytest.mark.parametrize(("table", "policy"), PAIRS, ids=lambda c: c.__name__)
def test_a_tables_defaults_are_its_dataclasses(table: type[BaseModel], policy: Any) -> None:
    shared = [f for f in dataclasses.fields(policy) if f.name in table.model_fields]
    missing = {f.name for f in dataclasses.fields(policy)} - set(table.model_fields) - CODE_ONLY
    assert not missing, f"{table.__name__} lacks keys for {policy.__name__}'s {missing}"
    for f in shared:
        default = table.model_fields[f.name].default
        if default is None and f.name in ProbeTable.model_fields:
            continue  # a probe's `timeout` (as in `ready`): not written, so the dataclass's
        normal = NORMAL.get(f.name, lambda v: v)
        assert normal(default) == f.default, f"{table.__name__}.{f.name}"


def test_an_empty_table_is_the_dataclass() -> None:
    assert RestartSpec().to_policy() == RestartPolicy() == sf.restart()
    assert LogsSpec().to_limit() == LogLimit()
    probe = {"http": "/health"}
    assert LivenessSpec(http="/health").to_policy() == LivenessPolicy(probe) == sf.liveness(probe)
    assert StopSpec().written() == {} and sf.stop() == StopPolicy()


def test_only_the_keys_written_are_handed_on() -> None:
    policy = RestartSpec(max_restarts=2, delay=1).to_policy()
    assert policy == dataclasses.replace(RestartPolicy(), max_restarts=2, delay=1.0)
    live = LivenessSpec(http="/h", timeout=0.5).to_policy()
    assert (live.timeout, live.period) == (0.5, LivenessPolicy.period)
    assert StopSpec(grace="2s").written() == {"grace": 2.0}


def test_restart_without_a_policy_means_on_failure_and_none_means_never(tmp_path: Path) -> None:
    """`restart = {}` and `sf.restart()` restart on failure; no restart table: never."""
    write_project(
        tmp_path,
        "[services.asks]\ncommand = ['true']\nrestart = {}\n"
        "[services.tuned]\ncommand = ['true']\nrestart = { max_restarts = 1 }\n"
        "[services.silent]\ncommand = ['true']\n",
    )
    graph = projects.load("dev", root=tmp_path).graph
    assert graph["asks"].restart == RestartPolicy() == sf.restart()
    assert graph["asks"].restart.policy == "on-failure"
    assert graph["tuned"].restart.policy == "on-failure"
    assert graph["silent"].restart == NO_RESTART and NO_RESTART.policy == "no"

    @sf.service
    def plain() -> Any:
        yield None

    assert plain.restart == NO_RESTART


def test_the_readme_states_the_defaults() -> None:
    supervision = section("## Supervision")
    db = tomllib.loads(blocks(supervision, "toml")[0])["services"]["db"]
    assert RestartSpec(**db["restart"]).to_policy() == RestartPolicy()
    live = LivenessPolicy(db["liveness"].pop("http"), **db["liveness"])
    assert live == LivenessPolicy("/health")
    assert "without a `restart` table is never restarted" in supervision
    assert "`restart = {}`, or `sf.restart()` in Python) means `on-failure`" in supervision
    stack = tomllib.loads(blocks(section("## Profiles"), "toml")[0])["stack"]
    assert LogsSpec(**stack["logs"]).to_limit() == LogLimit()
    said = (stack["parallelism"], stack["start_timeout"])
    assert said == (DEFAULT_PARALLELISM, DEFAULT_START_TIMEOUT)
    assert (StackSpec().parallelism, StackSpec().start_timeout) == said
