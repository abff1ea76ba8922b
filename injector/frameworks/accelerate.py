"""Accelerate: its own W&B tracker, not direct wandb calls.

`Accelerator(...)` gets `log_with="wandb"`; the run starts with
`init_trackers(project, config=...)` once both the accelerator and the config
exist, metrics go through `accelerator.log`, and `end_training()` closes the
run. Accelerate keeps all of it on the main process. A script that already wires
trackers behind a flag is left for that flag to switch on: a second tracker
beside its `init_trackers` would make two runs.
"""

from __future__ import annotations

import libcst as cst

from injector._matchers import call_name, dotted, keyword_arg, small_statements
from injector.frameworks import with_keyword
from injector.points import Plan, insertable
from injector.result import Point
from injector.script import Stmt

DESCRIPTION = "Log through Accelerate's own W&B tracker."


def plan_accelerate(plan: Plan) -> bool | None:
    """None when the script does not use Accelerate; False when it must be left
    as it is; True when the tracker is set and the points should use it."""
    found = _accelerator(plan)
    if found is None:
        return None
    name, stmt, call = found
    plan.framework = "accelerate"
    trackers = [
        s
        for s in plan.script.statements
        for c in s.calls
        if (call_name(c) or "").endswith(".init_trackers")
    ]
    if keyword_arg(call, "log_with") is not None or trackers:
        evidence = trackers[0] if trackers else stmt
        plan.omit(
            Point.INTEGRATION,
            "the script wires Accelerate's trackers itself (line {0}), behind its own "
            "options: run it with W&B chosen there",
            (evidence.node,),
        )
        return False
    if not insertable(stmt):
        plan.omit(Point.INTEGRATION, "the Accelerator is built on a one-line block")
        return False
    new_call = with_keyword(call, "log_with", cst.SimpleString('"wandb"'))
    new_stmt = stmt.node.deep_replace(call, new_call)
    assert isinstance(new_stmt, cst.BaseStatement)
    code = plan.module.code_for_node(new_stmt).strip()
    why = "Accelerate logs to W&B through its tracker, chosen on line {0}"
    plan.replace(stmt, new_stmt, code, Point.INTEGRATION, why, (stmt.node,))
    plan.tracker, plan.tracker_stmt = name, stmt
    return True


def _accelerator(plan: Plan) -> tuple[str, Stmt, cst.Call] | None:
    """`name = Accelerator(...)`: the name, the statement and the call."""
    for stmt in plan.script.statements:
        for small in small_statements(stmt.node):
            if not (
                isinstance(small, cst.Assign) and isinstance(small.value, cst.Call)
            ):
                continue
            if (call_name(small.value) or "").split(".")[-1] != "Accelerator":
                continue
            name = dotted(small.targets[0].target)
            if name is not None:
                return name, stmt, small.value
    return None
