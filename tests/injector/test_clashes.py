"""A script that binds a name the inserted code needs is skipped, not broken."""

from __future__ import annotations

import pytest
from report_checks import check_report
from test_properties import TRAINING

from injector import Status, inject_source

HEAD = b"import argparse\n"


def _with(prefix: str) -> bytes:
    assert HEAD in TRAINING
    return TRAINING.replace(HEAD, HEAD + prefix.encode(), 1)


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("from dataclasses import dataclass as wandb\n", id="import-as"),
        pytest.param("from helpers import wandb\n", id="from-import"),
        pytest.param("import wandb.sdk as wandb\n", id="submodule-as"),
        pytest.param("wandb = True\n", id="assignment"),
        pytest.param("wandb: bool = True\n", id="annotated"),
        pytest.param("def wandb():\n    pass\n", id="function"),
        pytest.param("class wandb:\n    pass\n", id="class"),
        pytest.param("def helper(wandb=None):\n    pass\n", id="parameter"),
        pytest.param("for wandb in range(2):\n    pass\n", id="loop-target"),
        pytest.param("if (wandb := 3):\n    pass\n", id="walrus"),
        pytest.param("os = 'posix'\n", id="os-assigned"),
        # No import to fall back from: the inserted import would be undone.
        pytest.param("wandb = None\n", id="none-without-an-import"),
        pytest.param("wandb: object = None\n", id="annotated-none-without-import"),
    ],
)
def test_a_clashing_binding_skips_the_file(prefix: str) -> None:
    source = _with(prefix)
    report = inject_source(source)
    check_report(source, report)
    assert report.status is Status.SKIPPED
    assert report.reason.startswith("the inserted code needs the name `")
    assert "which line 3 binds to something else" in report.reason


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("", id="nothing"),
        pytest.param("import wandb\n", id="the-module"),
        pytest.param("import wandb as wandb\n", id="the-module-as-itself"),
        pytest.param("import wandb.sdk\n", id="a-submodule"),
        pytest.param("import os.path\n", id="os-path"),
        pytest.param(
            "try:\n    import wandb\nexcept ImportError:\n    wandb = None\n",
            id="optional-import",
        ),
        pytest.param("from wandb import init as wandb_init\n", id="other-name"),
    ],
)
def test_the_module_itself_is_no_clash(prefix: str) -> None:
    source = _with(prefix)
    report = inject_source(source)
    check_report(source, report)
    assert report.status is Status.CHANGED, report.reason
