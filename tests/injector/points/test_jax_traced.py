"""Nothing is ever inserted in a function JAX traces; the report says what was held
back and why."""

from __future__ import annotations

import ast
from pathlib import Path

from injector import InjectOptions, Point, Status, inject_source

FIXTURES = Path(__file__).parent.parent / "fixtures" / "jax"
TRACED = {"train_step", "evaluate", "step_fn", "update", "train_epoch", "loss_fn"}


def _traced_bodies_mention_wandb(source: bytes) -> list[str]:
    tree = ast.parse(source)
    return [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and node.name in TRACED
        and "wandb" in ast.unparse(node)
    ]


def test_no_fixture_gets_wandb_inside_a_traced_function() -> None:
    for before in sorted(FIXTURES.glob("*/before.py")):
        report = inject_source(before.read_bytes(), InjectOptions(project="p"))
        assert not _traced_bodies_mention_wandb(report.new_source), before


def test_eval_log_inside_a_jitted_evaluate_is_refused_with_a_reason() -> None:
    source = (FIXTURES / "jitted_evaluate_reports" / "before.py").read_bytes()

    report = inject_source(source, InjectOptions(project="p"))

    assert report.status is Status.CHANGED
    reasons = [o.reason for o in report.omissions if o.point is Point.EVAL_LOG]
    assert "`evaluate` is traced by JAX" in reasons[0]
