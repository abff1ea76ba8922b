"""Test-wide hooks: the requires_tool marker, and strict skips for missing tools."""

from __future__ import annotations

from collections.abc import Generator

import pytest
from support import MISSING_TOOL, STRICT_SKIPS_VARIABLE, require_tool, strict_skips

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires_tool(name, how_to_install): skip when the tool is not on PATH",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("requires_tool"):
        require_tool(*marker.args, **marker.kwargs)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and strict_skips():
        reason = _skip_reason(report)
        if reason.startswith(MISSING_TOOL):
            report.outcome = "failed"
            report.longrepr = f"{reason} (skips fail with {STRICT_SKIPS_VARIABLE}=1)"
    return report


def _skip_reason(report: pytest.TestReport) -> str:
    # A skip's longrepr is (file, line, "Skipped: <reason>").
    if isinstance(report.longrepr, tuple):
        return report.longrepr[2].removeprefix("Skipped: ")
    return ""
