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

from injector._matchers import (
    call_name,
    dotted,
    keyword_arg,
    method_name,
    positional_args,
    small_statements,
)
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
        if trackers and _enable_tracking_flag(plan, trackers[0]):
            return False
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


def _enable_tracking_flag(plan: Plan, trackers: Stmt) -> bool:
    """Turn on the `store_true` flag that guards the script's own `init_trackers`,
    when its trackers default to all of them (W&B among them) or to W&B."""
    guard = next((p for p in trackers.parents if isinstance(p.node, cst.If)), None)
    if guard is None or "argparse" not in plan.script.module_scope.bound:
        return False
    assert isinstance(guard.node, cst.If)
    flag = dotted(guard.node.test)
    if flag is None or "." not in flag:
        return False
    found = _argument(plan, flag.rsplit(".", 1)[-1])
    if found is None:
        return False
    stmt, call = found
    action = keyword_arg(call, "action")
    if not (
        isinstance(action, cst.SimpleString) and action.evaluated_value == "store_true"
    ):
        return False
    if not _reports_to_wandb(plan):
        return False
    on = with_keyword(
        call, "action", cst.parse_expression("argparse.BooleanOptionalAction")
    )
    on = with_keyword(on, "default", cst.Name("True"))
    new_stmt = stmt.node.deep_replace(call, on)
    assert isinstance(new_stmt, cst.BaseStatement)
    code = plan.module.code_for_node(new_stmt).strip()
    why = (
        "the script's own tracking (`init_trackers` on line {0}) runs only under "
        f"`{flag}`: now on by default, off with `--no-{_option(call)}`"
    )
    plan.replace(stmt, new_stmt, code, Point.INTEGRATION, why, (trackers.node,))
    return True


def _argument(plan: Plan, dest: str) -> tuple[Stmt, cst.Call] | None:
    """The `add_argument` call that defines the option stored as `dest`."""
    for stmt in plan.script.statements:
        for call in stmt.calls:
            if (
                method_name(call) != "add_argument"
                or len(small_statements(stmt.node)) != 1
            ):
                continue
            dest_arg = keyword_arg(call, "dest")
            if isinstance(dest_arg, cst.SimpleString):
                if dest_arg.evaluated_value == dest:
                    return stmt, call
                continue
            names = [
                a.evaluated_value
                for a in positional_args(call)
                if isinstance(a, cst.SimpleString)
            ]
            if any(
                isinstance(n, str)
                and n.lstrip("-").replace("-", "_") == dest
                and n.startswith("--")
                for n in names
            ):
                return stmt, call
    return None


def _option(call: cst.Call) -> str:
    names = [
        a.evaluated_value
        for a in positional_args(call)
        if isinstance(a, cst.SimpleString)
    ]
    long = next((n for n in names if isinstance(n, str) and n.startswith("--")), "")
    return long.removeprefix("--")


def _reports_to_wandb(plan: Plan) -> bool:
    """Whether `--report_to` (when the script has one) includes W&B by default."""
    found = _argument(plan, "report_to")
    if found is None:
        return True
    default = keyword_arg(found[1], "default")
    return isinstance(default, cst.SimpleString) and default.evaluated_value in (
        "all",
        "wandb",
    )


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
