"""The pytest front door (registered through the `pytest11` entry point): every service of the
active profile is a fixture of the same name, plus `stack`, `stack_mode` and `private_stack`."""

from __future__ import annotations

from .plugin import (
    pytest_addoption,
    pytest_configure,
    pytest_sessionfinish,
    pytest_unconfigure,
    session_stack_ids,
)
from .report import (
    pytest_report_header,
    pytest_runtest_makereport,
    pytest_runtest_setup,
    pytest_terminal_summary,
)

__all__ = [
    "pytest_addoption",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_unconfigure",
    "session_stack_ids",
]
