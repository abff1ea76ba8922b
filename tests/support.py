"""Helpers the tests share: external tools that a test needs."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections.abc import Callable

import pytest

STRICT_SKIPS_VARIABLE = "WANDB_INJECT_STRICT_SKIPS"
# Every skip for a missing tool starts with this, so conftest can recognise it.
MISSING_TOOL = "missing tool"
# The keys of one file's report in `--json` output: a contract with other tools.
REPORT_KEYS = {
    "path",
    "status",
    "reason",
    "config",
    "insertions",
    "omissions",
    "distributed",
    "framework",
}


def require_tool(name: str, how_to_install: str) -> str:
    """The tool's path on PATH; without it the test is skipped, saying how to install.

    Under WANDB_INJECT_STRICT_SKIPS=1 (as in CI) conftest turns that skip into a
    failure, so a machine without the tool cannot pass by skipping.
    """
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{MISSING_TOOL} {name!r}: install it with {how_to_install}")
    return path


def require_module(name: str, how_to_install: str) -> None:
    """Skip, saying how to install it, unless this interpreter can import `name`."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{MISSING_TOOL} {name!r}: install it with {how_to_install}")


def strict_skips() -> bool:
    return os.environ.get(STRICT_SKIPS_VARIABLE) == "1"


def eventually(condition: Callable[[], object], what: str, seconds: float = 10) -> None:
    """Wait until `condition()` is true; fail, naming `what`, after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.01)
