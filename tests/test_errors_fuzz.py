"""Issue 15's reliability figure in small: the position scanner against tomllib on generated
documents, and a few hundred examples of bench/fuzz_profiles.py (no traceback, ever)."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackfixtures._config.positions import KeyPath, SourceMap

BENCH = Path(__file__).resolve().parent.parent / "bench" / "fuzz_profiles.py"

KEYS = st.one_of(
    st.sampled_from(["a", "b-c", "d_1", "services", "x"]),
    st.text(alphabet="ab .\"'\\é#=[]{}", min_size=1, max_size=6),  # quoted keys
)
SCALARS = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=8),  # quotes, escapes, newlines: tomli-w picks the string form
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)
DOCS = st.dictionaries(KEYS, VALUES, max_size=4)


def key_paths(data: Any, base: KeyPath = ()) -> list[KeyPath]:
    out: list[KeyPath] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += [(*base, k), *key_paths(v, (*base, k))]
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += [(*base, i), *key_paths(v, (*base, i))]
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(DOCS, st.booleans())
def test_every_key_tomllib_reads_is_located_at_its_key(doc: dict[str, Any], multi: bool) -> None:
    text = tomli_w.dumps(doc, multiline_strings=multi)
    parsed = tomllib.loads(text)
    smap = SourceMap.of("x.toml", text)
    for path in key_paths(parsed):
        assert path in smap.offsets, (path, text)
        offset = smap.offsets[path]
        last = path[-1]
        if isinstance(last, str) and not (len(path) > 1 and isinstance(path[-2], int)):
            written = text[offset:]
            quoted = written[:1] in "\"'"
            assert written.startswith(last) or quoted, (path, written[:20], text)
        line, column = smap.position(offset)
        assert text.split("\n")[line - 1][column - 1 :] == text[offset:].split("\n")[0]


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_profiles", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_fuzzed_profiles_are_rejected_with_positions_and_never_a_traceback(
    tmp_path: Path,
) -> None:
    result = bench().run(examples=300, start_every=60, seed_value=15, root=tmp_path)
    assert result["examples"] == 300
    assert result["tracebacks"] == 0, result["samples"]
    assert result["accepted_then_traceback"] == 0, result["samples"]
    assert result["rejected_unlocated"] == 0, result["samples"]
    assert result["rejected"] > 0 and result["accepted"] > 0 and result["started"] > 0
