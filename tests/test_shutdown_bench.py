"""The shutdown benchmark's statistics (the benchmark itself runs in CI: see .ci/run)."""

from __future__ import annotations

import pytest

from stackfixtures._bench.shutdown import RunResult, markdown, wilson


@pytest.mark.parametrize(
    ("successes", "n", "lo", "hi"),
    [
        (20, 20, 0.8389, 1.0),
        (199, 200, 0.9722, 0.9991),
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
    ],
)
def test_wilson_interval(successes: int, n: int, lo: float, hi: float) -> None:
    assert wilson(successes, n) == pytest.approx((lo, hi), abs=1e-4)


def test_a_run_succeeds_only_when_graceful_complete_and_clean() -> None:
    ok = RunResult(run=1, acknowledged=10, graceful=True)
    assert ok.success
    assert not RunResult(run=1, graceful=True, lost=1).success
    assert not RunResult(run=1, graceful=True, orphans=1).success
    assert not RunResult(run=1, graceful=False).success


def test_markdown_summary() -> None:
    text = markdown(
        {
            "runs": 20,
            "successes": 20,
            "success_rate": 1.0,
            "ci95": [0.8389, 1.0],
            "lost_writes": 0,
            "orphans": 0,
            "forced_stops": 0,
            "slowest_stop_s": 0.5,
        }
    )
    assert "| 20 | 20 | 100.00% | 83.89% to 100.00% | 0 | 0 | 0 | 0.50 s |" in text


def test_summary_file_goes_where_asked_even_into_a_new_dir(tmp_path: object) -> None:
    from pathlib import Path

    from stackfixtures._bench.shutdown import write_summary

    target = Path(str(tmp_path)) / "not" / "yet" / "there.json"
    write_summary({"runs": 1, "successes": 1}, str(target))
    assert '"successes": 1' in target.read_text()
