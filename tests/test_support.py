"""The require_tool helper, and the strict mode that fails skips for missing tools."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import MISSING_TOOL, STRICT_SKIPS_VARIABLE, require_tool

TESTS = Path(__file__).parent

NEEDS_MISSING_TOOLS = """
import pytest
from support import require_tool

def test_calls_helper():
    require_tool("wandb-inject-no-such-tool", "apt-get install nothing")

@pytest.mark.requires_tool("wandb-inject-no-such-tool-either", "pip install nothing")
def test_uses_marker():
    pass

def test_plain_skip():
    pytest.skip("not about tools")
"""


def test_require_tool_returns_the_executable_path() -> None:
    path = require_tool("sh", "apt-get install dash")

    assert Path(path).name == "sh"
    assert os.access(path, os.X_OK)


def test_require_tool_skips_with_install_hint() -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_tool("wandb-inject-no-such-tool", "apt-get install nothing")

    message = str(skipped.value)
    assert message.startswith(MISSING_TOOL)
    assert "wandb-inject-no-such-tool" in message
    assert "apt-get install nothing" in message


@pytest.fixture
def inner_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    pytester.makepyfile(test_tools=NEEDS_MISSING_TOOLS)
    return pytester


def test_missing_tools_skip_by_default(
    inner_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STRICT_SKIPS_VARIABLE, raising=False)

    result = inner_suite.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(skipped=3)


def test_strict_mode_fails_missing_tools_but_not_other_skips(
    inner_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STRICT_SKIPS_VARIABLE, "1")

    result = inner_suite.runpytest("-p", "no:cacheprovider", "-rs")

    # The marker works in setup, so its failure counts as an error.
    result.assert_outcomes(failed=1, errors=1, skipped=1)
    result.stdout.fnmatch_lines(["*missing tool 'wandb-inject-no-such-tool'*"])
