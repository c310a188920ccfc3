"""The house rules a reviewer checks by eye, checked here: small files with one job each."""

from __future__ import annotations

from pathlib import Path

import stackfixtures

PACKAGE = Path(stackfixtures.__file__).parent
LIMIT = 400


def test_no_module_of_the_package_or_its_tests_is_over_400_lines() -> None:
    files = [*PACKAGE.rglob("*.py"), *Path(__file__).parent.glob("*.py")]
    long = {
        str(path): n
        for path in files
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert not long, f"split these by what they hold: {long}"


def test_internals_are_private_by_name() -> None:
    public = {"cli", "errors", "kind_api", "kinds", "pytest_plugin", "testing"}
    names = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    names -= {"__init__", "__main__"}
    assert {n for n in names if not n.startswith("_")} == public
