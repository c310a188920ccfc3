"""`stack report`, `pytest --stack-report` and `stack bench shutdown --html`: generated from
real runs, parsed, and checked to load with nothing from the network."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from .cli_helpers import StackProcess, run_stack
from .conftest import DB_WEB, filled, write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PROFILE = (
    '[stack]\nservices = ["web"]\n' + DB_WEB + 'restart = { policy = "on-failure", delay = 0.1 }\n'
)

EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


def parse(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def assert_offline(soup: BeautifulSoup) -> None:
    """Nothing is fetched when the page opens: no external src/href, no @import, no scripts
    or stylesheets from files."""
    for tag in soup.find_all(True):
        for attr in ("src", "href", "xlink:href", "action", "data"):
            value = tag.get(attr)
            assert value is None or not EXTERNAL.match(str(value)), (tag.name, attr, value)
    assert not soup.find_all("link")
    assert not soup.find_all("script", src=True)
    for style in soup.find_all("style"):
        assert "@import" not in style.get_text()
        assert "url(" not in style.get_text()


def lanes(soup: BeautifulSoup) -> dict[str, BeautifulSoup]:
    return {g["data-service"]: g for g in soup.select("g.lane[data-service]")}


def test_report_of_a_running_stack_and_after_the_fact(tmp_path: Path) -> None:
    write_project(tmp_path, PROFILE)
    p = StackProcess(["run", "--no-tui", "-p", "dev"], cwd=tmp_path)
    try:
        p.wait_for("NAME")
        assert run_stack(["restart", "web"], cwd=tmp_path).returncode == 0
        assert run_stack(["kill", "web"], cwd=tmp_path).returncode == 0
        p.wait_for("web: backoff -> waiting")  # the restart policy brings it back
        p.wait_for("web: starting -> ready")
        live = run_stack(["report", "-o", str(tmp_path / "live.html")], cwd=tmp_path)
        assert live.returncode == 0, live.stderr
        p.signal(signal.SIGINT)
        assert p.finish() == 0, p.output
    finally:
        p.kill()
    after = run_stack(["report", "-p", "dev", "-o", str(tmp_path / "after.html")], cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    for name in ("live.html", "after.html"):
        soup = parse(tmp_path / name)
        assert_offline(soup)
        found = lanes(soup)
        assert set(found) == {"db", "web"}
        web = found["web"]
        assert len(web.select("polygon.m-restart")) == 2  # by hand, then after the kill
        assert len(web.select("g.m-failure")) == 1
        assert {r["data-chain"] for r in soup.select("rect.chain-span")} == {"db", "web"}
        chain = soup.find("span", class_="chain").get_text()
        assert re.match(r"web @[\d.]+s \+[\d.]+s <- db @0\.00s \+[\d.]+s$", chain), chain
        durations = soup.select("section.stack table")[0]
        rows = [[td.get_text() for td in tr.find_all("td")] for tr in durations.select("tbody tr")]
        incidents = soup.select("section.stack table")[1].get_text()
        assert "process" in incidents and "killed by SIGKILL" in incidents  # the kill
        assert [r[0] for r in rows] == ["db", "web"]
        assert {r[0]: r[4] for r in rows} == {"db": "0", "web": "2"}  # restarts
    stopped = lanes(parse(tmp_path / "after.html"))
    states = {r["class"][1] for r in stopped["web"].select("rect.span")}
    assert {"s-waiting", "s-starting", "s-ready", "s-stopping", "s-failed"} <= states


def test_a_state_dir_without_events_exits_4(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_stack(["report", "--state-dir", str(tmp_path / "empty")], cwd=tmp_path)
    assert result.returncode == 4
    assert f"no events recorded in {tmp_path / 'empty' / 'events.jsonl'}" in result.stderr


PYTEST_PROFILE = filled(DB_WEB)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_pytest_writes_the_sessions_report(pytester: pytest.Pytester, workers: list[str]) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(PYTEST_PROFILE)
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(
        test_a="def test_one(web):\n    assert web.url\n\ndef test_two(db):\n    assert db.port\n"
    )
    out = pytester.path / "reports" / "session.html"
    result = pytester.runpytest_subprocess(
        "--stack-profile", "dev", "--stack-report", str(out), "-p", "no:cacheprovider", *workers
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"stackfixtures: timeline report written to {out}"])
    soup = parse(out)
    assert_offline(soup)
    sections = {s["data-stack"]: s for s in soup.select("section.stack")}
    if workers:  # session-scoped services ran in the launcher the workers shared
        assert "shared stack (all workers)" in sections
    shown = {g["data-service"] for s in sections.values() for g in s.select("g.lane")}
    assert shown == {"db", "web"}
    assert soup.select("rect.chain-span[data-chain=web]")


def test_bench_shutdown_html_plots_each_run(tmp_path: Path) -> None:
    write_project(tmp_path, PROFILE)
    page = tmp_path / "out" / "bench.html"
    result = run_stack(
        ["bench", "shutdown", "-p", "dev", "--runs", "2", "--html", str(page)],
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    soup = parse(page)
    assert_offline(soup)
    assert [r["data-run"] for r in soup.select("rect.run")] == ["1", "2"]
    assert soup.find(id="success-rate").get_text() == "2/2 (100.00%)"
    assert soup.find(id="wilson").get_text() == "34.24% to 100.00%"
