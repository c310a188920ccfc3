"""Property-based fuzz of the profile loader (hypothesis): how often a broken profile is
rejected with a located message, and that nothing ends in a traceback.

Inputs: valid profiles mutated (key typos, wrong types, empty and huge values, unknown kinds,
broken templates, cycles, deep `extends` chains, non-UTF-8 bytes) and random TOML documents.
Each is loaded as `stack validate` does (project.load). A profile that is accepted is then
taken through everything that happens before processes start (graph, start order, each
service's context: every template, probe, stop policy and option rendered); every
--start-every'th accepted one is really started, on tiny commands with a short timeout.

Prints one JSON object: examples, rejected (located: every problem has file:line),
rejected_unlocated, accepted, tracebacks (must be 0), accepted_then_traceback (must be 0),
started, plus samples of anything that went wrong.
Usage: python bench/fuzz_profiles.py [--examples 5000] [--start-every 25] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from stackfixtures import Stack
from stackfixtures import _project as projects
from stackfixtures._define.graph import Graph
from stackfixtures._define.service import Handle
from stackfixtures._engine import probes
from stackfixtures._engine.context import ServiceContext
from stackfixtures._engine.logs import ServiceLog
from stackfixtures._engine.probes.base import describe_for
from stackfixtures.errors import DefinitionError, StackError, StartupCrashed
from stackfixtures.kinds.command import ready_table

NAMES = ["db", "cache", "web", "api", "worker", "bus"]
OWN = ["${port}", "${host}", "${state_dir}", "${data_dir}", "${root}", "${name}"]
ATTRS = ["host", "port", "url", "pid"]
TINY = ["sleep", "30"]


# ---------------------------------------------------------------------- valid profiles


@st.composite
def valid_profile(draw: Any) -> dict[str, Any]:
    """A profile the loader must accept: command services on tiny commands, wired together."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    services: dict[str, Any] = {}
    for i, name in enumerate(names):
        deps = draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        body: dict[str, Any] = {"command": [*TINY, draw(st.sampled_from(["#", *OWN]))]}
        if deps:
            body["depends_on"] = deps
            dep = draw(st.sampled_from(deps))
            body["env"] = {"DEP": f"${{{dep}.{draw(st.sampled_from(ATTRS))}}}"}
        if draw(st.booleans()):
            body["ready"] = draw(
                st.sampled_from(
                    [{"tcp": "${port}"}, {"log": "ready"}, {"exec": ["true"]}, {"http": "/h"}]
                )
            )
        if draw(st.booleans()):
            body["stop"] = {"signal": "SIGTERM", "grace": draw(st.sampled_from([0.5, "2s", 1]))}
        if draw(st.booleans()):
            body["restart"] = {"policy": draw(st.sampled_from(["no", "on-failure", "always"]))}
        if draw(st.booleans()):
            body["liveness"] = {"tcp": "${port}", "period": 5}
        if draw(st.booleans()):
            body["start_timeout"] = draw(st.sampled_from([1, 2.5, 30]))
        services[name] = body
    stack: dict[str, Any] = {"modules": [], "start_timeout": 3}
    if draw(st.booleans()):
        stack["services"] = [names[-1]]
    return {"stack": stack, "services": services}


# ---------------------------------------------------------------------- mutations

KEYS_OF_SOME_TABLE = ["command", "depends_on", "env", "ready", "stop", "restart", "kind"]
WRONG = st.one_of(
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False),
    st.booleans(),
    st.text(max_size=20),
    st.just(""),
    st.just([]),
    st.just({}),
    st.lists(st.integers(), max_size=3),
    st.text(min_size=5000, max_size=20000),  # huge
)
TEMPLATES = st.sampled_from(
    ["${", "${db.", "${db.dsnn}", "${nope.port}", "${port", "$${x}", "${}", "${a.b.c}", "${prot}"]
)


def _paths(data: Any, base: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [base] if base else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*base, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*base, i))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _services(data: dict[str, Any]) -> dict[str, Any] | None:
    """The services table while it is still a table of tables (earlier mutations may not
    have left it one), else None."""
    table = data.get("services")
    if isinstance(table, dict) and table and all(isinstance(v, dict) for v in table.values()):
        return table
    return None


def _typo(word: str, draw: Any) -> str:
    if not word:
        return "x"
    i = draw(st.integers(0, len(word) - 1))
    how = draw(st.sampled_from(["drop", "double", "swap", "change"]))
    if how == "drop":
        return word[:i] + word[i + 1 :] or "x"
    if how == "double":
        return word[:i] + word[i] + word[i:]
    if how == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + draw(st.sampled_from("abcdefgxyz_")) + word[i + 1 :]


@st.composite
def mutated(draw: Any) -> tuple[dict[str, Any], list[str], bool]:
    """A valid profile with 1-3 mistakes; also the chain of files it extends, and whether
    its bytes get a non-UTF-8 byte."""
    data = draw(valid_profile())
    chain: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["typo", "wrong", "empty", "kind", "template", "cycle", "extends", "drop", "add"]
            )
        )
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        if kind == "typo" and isinstance(path[-1], str):
            parent[_typo(path[-1], draw)] = parent.pop(path[-1])
        elif kind == "wrong":
            parent[path[-1]] = draw(WRONG)
        elif kind == "empty":
            parent[path[-1]] = draw(st.sampled_from(["", [], {}, 0, -1, " "]))
        elif kind in ("kind", "template", "cycle") and _services(data):
            table = _services(data)
            svc = draw(st.sampled_from(list(table)))
            if kind == "kind":
                table[svc]["kind"] = draw(
                    st.sampled_from(["mystery", "postgress", "", "command", "redis", "external"])
                )
            elif kind == "template":
                env = table[svc].setdefault("env", {})
                if isinstance(env, dict):
                    env["T"] = draw(TEMPLATES)
            else:
                names = list(table)
                table[names[0]]["depends_on"] = [names[-1]]
        elif kind == "extends" and isinstance(data.get("stack"), dict):
            depth = draw(st.integers(1, 40))
            chain = [f"base{i}" for i in range(depth)]
            if draw(st.booleans()):
                chain.append(draw(st.sampled_from(["base0", "missing", "dev"])))  # loop, absent
            data["stack"]["extends"] = chain[0]
        elif kind == "drop":
            if len(path) > 1:
                del parent[path[-1]]
        elif kind == "add":
            parent = parent if isinstance(parent, dict) else data
            parent[draw(st.sampled_from(["servics", "depens_on", "tcpp", "x", "grace"]))] = 1
    return data, chain, draw(st.integers(0, 19)) == 0


TOML_KEYS = st.sampled_from(["stack", "services", "bench", *NAMES, *KEYS_OF_SOME_TABLE, "a"])
TOML_VALUES = st.recursive(
    st.one_of(st.integers(), st.text(max_size=10), st.booleans(), st.floats(allow_nan=False)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TOML_KEYS, inner, max_size=3),
    max_leaves=12,
)
RANDOM_DOCS = st.dictionaries(TOML_KEYS, TOML_VALUES, max_size=4)
EXAMPLES = st.one_of(
    mutated().map(lambda m: ("mutated", m)),
    RANDOM_DOCS.map(lambda d: ("random", (d, [], False))),
    st.binary(max_size=200).map(lambda b: ("bytes", b)),
    valid_profile().map(lambda d: ("valid", (d, [], False))),
)


# ---------------------------------------------------------------------- the harness


def _safe(data: Any) -> Any:
    """No import of anything real: `stack.modules` entries name modules that do not exist."""
    stack = data.get("stack") if isinstance(data, dict) else None
    if isinstance(stack, dict) and isinstance(stack.get("modules"), list):
        stack["modules"] = [
            f"fuzz_no_such_module_{i}" if isinstance(m, str) else m
            for i, m in enumerate(stack["modules"])
        ]
    return data


def write(root: Path, example: tuple[str, Any]) -> None:
    shutil.rmtree(root / "profiles", ignore_errors=True)
    (root / "profiles").mkdir(parents=True)
    kind, payload = example
    path = root / "profiles" / "dev.toml"
    if kind == "bytes":
        path.write_bytes(payload)
        return
    data, chain, bad_byte = payload
    text = tomli_w.dumps(_safe(data)).encode()
    if bad_byte:
        text = text[: len(text) // 2] + b"\xff\xfe" + text[len(text) // 2 :]
    path.write_bytes(text)
    for i, name in enumerate(chain):
        if name in ("missing", "dev") or (root / "profiles" / f"{name}.toml").exists():
            continue
        parent = chain[i + 1] if i + 1 < len(chain) else None
        base: dict[str, Any] = {"stack": {"modules": []}, "services": {}}
        if parent is not None:
            base["stack"]["extends"] = parent
        if i == len(chain) - 1 or i % 7 == 3:
            base["services"][f"s{i}"] = {"command": TINY, "stop": {"grace": i + 1}}
        (root / "profiles" / f"{name}.toml").write_text(tomli_w.dumps(base))


def before_start(proj: projects.Project) -> None:
    """Everything a start does before it runs a process: the graph's order and levels, and
    per service its context, every template of its command, env and probe, its stop policy."""
    graph = proj.graph
    order = graph.closure(proj.selected)
    graph.levels(order)
    handles: dict[str, Handle] = {}
    loop = asyncio.new_event_loop()
    try:
        for name in order:
            d = graph[name]
            ctx = ServiceContext(
                definition=d,
                stack_id="fuzz",
                root=proj.root,
                state_dir=proj.state_dir / "services" / name,
                log=ServiceLog(name, None),
                deps={dep: handles[dep] for dep in d.dependencies},
                loop=loop,
                hurry=asyncio.Event(),
            )
            ctx.keep_port(40000)
            for value in d.env.values():
                ctx.render(str(value))
            ctx.stop_policy()
            ctx.environment()
            config = dict(d.config)
            command = config.get("command")
            if isinstance(command, list):
                argv = [ctx.render(str(a)) for a in command]
                assert argv and argv[0], f"{name}: empty argv {argv!r}"
            if isinstance(config.get("ready"), dict):
                probe = probes.from_spec(
                    ready_table().model_validate(config["ready"]).as_probe_dict()
                )
                describe_for(probe, ctx)
            d.restart.delay_for(1)
            handles[name] = Handle(host="127.0.0.1", port=40000, url="http://x", pid=1)
    finally:
        loop.close()


async def start(proj: projects.Project, state: Path) -> str:
    """Start it for real; "" when it started or failed as a service may, else the traceback."""
    quick = Graph({n: d.evolve(start_timeout=1.0) for n, d in proj.graph.definitions.items()})
    stack = Stack(quick, state_dir=state, root=proj.root, record=False)
    try:
        await asyncio.wait_for(stack.start(proj.selected), 20)
    except StartupCrashed as e:
        if e.reason.startswith("raised "):  # no user code here: an internal error
            return str(e)
    except StackError:
        pass
    except Exception:
        return traceback.format_exc()
    finally:
        await stack.close()
    return ""


class Tally:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(
            [
                "examples",
                "rejected",
                "rejected_unlocated",
                "accepted",
                "tracebacks",
                "accepted_then_traceback",
                "started",
            ],
            0,
        )
        self.samples: dict[str, list[str]] = {}

    def note(self, key: str, sample: str = "") -> None:
        self.counts[key] += 1
        if sample and len(self.samples.setdefault(key, [])) < 3:
            self.samples[key].append(sample[-3000:])


def run(examples: int, start_every: int, seed_value: int, root: Path) -> dict[str, Any]:
    """Fuzz `examples` inputs; the tally as a JSON-able dict."""
    tally = Tally()
    (root / "pyproject.toml").write_text("[project]\nname = 'fuzz'\nversion = '0'\n")

    @seed(seed_value)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(EXAMPLES)
    def one(example: tuple[str, Any]) -> None:
        tally.counts["examples"] += 1
        write(root, example)
        try:
            proj = projects.load("dev", root=root, state_dir=root / "state")
        except DefinitionError as e:
            problems = getattr(e, "problems", None) or []
            located = bool(problems) and all(p.line > 0 for p in problems)
            tally.note("rejected")
            if not located:
                tally.note("rejected_unlocated", str(e))
            return
        except Exception:
            tally.note("tracebacks", traceback.format_exc())
            return
        tally.note("accepted")
        try:
            before_start(proj)
        except Exception:
            tally.note("accepted_then_traceback", traceback.format_exc())
            return
        if start_every and tally.counts["accepted"] % start_every == 0:
            tally.counts["started"] += 1
            why = asyncio.run(start(proj, root / "state"))
            if why:
                tally.note("accepted_then_traceback", why)

    t0 = time.monotonic()
    one()
    return {**tally.counts, "seconds": round(time.monotonic() - t0, 1), "samples": tally.samples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=5000)
    ap.add_argument("--start-every", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuzz-profiles-") as tmp:
        result = run(args.examples, args.start_every, args.seed, Path(tmp))
    print(json.dumps(result, indent=1))
    bad = result["tracebacks"] or result["accepted_then_traceback"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
