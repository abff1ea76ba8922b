"""Every fixture's before.py becomes its after.py, and meets its expect.json."""

from __future__ import annotations

import os

import pytest
from fixture_cases import Case, all_cases, case_params, logged_value, step_value

from injector import InjectOptions, Status, inject_source

CASES = all_cases()
# Regenerate after.py files with WANDB_INJECT_UPDATE_FIXTURES=1, then review the diff.
UPDATE = os.environ.get("WANDB_INJECT_UPDATE_FIXTURES") == "1"


def _inject(case: Case, source: bytes | None = None):
    options = InjectOptions(project="fixture-project")
    return inject_source(case.before if source is None else source, options, case.id)


def test_there_are_enough_fixtures() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", case_params())
def test_output_matches_after(case: Case) -> None:
    report = _inject(case)
    if UPDATE:
        if report.status is Status.CHANGED:
            case.after_path.write_bytes(report.new_source)
        elif case.after_path.exists():
            case.after_path.unlink()
    expected = case.after_path.read_bytes() if case.after_path.exists() else case.before
    assert report.new_source == expected


@pytest.mark.parametrize("case", case_params())
def test_second_run_changes_nothing(case: Case) -> None:
    first = _inject(case)
    second = _inject(case, first.new_source)
    assert second.status is not Status.CHANGED, second.insertions
    assert second.new_source == first.new_source


@pytest.mark.parametrize("case", case_params())
def test_report_meets_expectations(case: Case) -> None:
    expect = case.expect
    report = _inject(case)
    assert str(report.status) == expect["status"], report.reason
    if "reason" in expect:
        assert report.reason == expect["reason"]
    points = sorted({str(i.point) for i in report.insertions})
    assert points == sorted(expect["points"])
    kind = report.config.kind if report.config else None
    assert kind == expect["config_kind"]
    if "framework" in expect:
        assert report.framework == expect["framework"]
    if "guard" in expect:
        assert report.distributed is not None
        assert report.distributed.guard == expect["guard"]
    if "config_expression" in expect:
        assert report.config is not None
        assert report.config.expression == expect["config_expression"]
    logs = [
        i.code
        for i in report.insertions
        if "wandb.log" in i.code and i.point == "train_log"
    ]
    if "train_log_step" in expect:
        assert [step_value(code) for code in logs] == [expect["train_log_step"]] * len(
            logs
        )
    if "train_loss_expr" in expect:
        values = [logged_value(code, "train/loss") for code in logs]
        assert values == [expect["train_loss_expr"]] * len(logs)
