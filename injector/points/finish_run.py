"""End the run with `wandb.finish()` once training is over, and on early returns.

Leaves it out where the end can never be reached (a `while True` loop with no way
out) or where the process exits inside the statement (`sys.exit(main())`); W&B
finishes the run at process exit in those cases.
"""

from __future__ import annotations

import libcst as cst

from injector._matchers import call_name, expression_of, small_statements
from injector.points import Plan, insertable
from injector.result import Point
from injector.script import Block, Stmt

DESCRIPTION = "End the run once training is over, including on early returns."
_EXITS = ("sys.exit", "exit", "quit", "os._exit")


def plan_finish(plan: Plan) -> None:
    if plan.tracking.finishes:
        plan.omit_existing(Point.FINISH, "wandb.finish", plan.tracking.finishes)
        return
    block, start = plan.run_block, plan.run_start
    if block is None or start is None:
        return
    if _never_ends(plan, start):
        plan.omit(
            Point.FINISH,
            "the training loop on line {0} never ends on its own; W&B finishes the run "
            "when the process exits",
            (start.node,),
        )
        return
    _plan_early_returns(plan, block, start)
    _plan_end(plan, block)


def _plan_end(plan: Plan, block: Block) -> None:
    last = block.statements[-1]
    if _exits(last):
        plan.omit(
            Point.FINISH,
            "the process exits inside the statement on line {0}; W&B finishes the run "
            "at exit",
            (last.node,),
        )
        return
    if _is_return(last) or _ends_process_group(last):
        what = (
            "the training function returns"
            if _is_return(last)
            else ("the process group is torn down")
        )
        why = f"before {what} on line {{0}}"
        plan.insert(last, "before", plan.finish_code, Point.FINISH, why, (last.node,))
        return
    plan.insert(
        last,
        "after",
        plan.finish_code,
        Point.FINISH,
        "once training and everything after it are done, after line {0}",
        (last.node,),
    )


def _plan_early_returns(plan: Plan, block: Block, start: Stmt) -> None:
    final = block.statements[-1]
    init_at = _init_position(plan, block)
    for stmt in plan.script.statements:
        if stmt.scope is not final.scope or stmt is final or not _is_return(stmt):
            continue
        top = stmt.top_in(block)
        if top is None or top.index < init_at:
            continue
        if not insertable(stmt):
            plan.omit(
                Point.FINISH,
                "the return on line {0} is on a one-line block",
                (stmt.node,),
            )
            continue
        plan.insert(
            stmt,
            "before",
            plan.finish_code,
            Point.FINISH,
            "before the early return on line {0}, which ends training",
            (stmt.node,),
        )


def _init_position(plan: Plan, block: Block) -> int:
    for edit in plan.edits:
        if edit.point is Point.INIT and edit.anchor.block is block:
            return edit.anchor.index
    return 0


def _ends_process_group(stmt: Stmt) -> bool:
    """`dist.destroy_process_group()`: finish first, while every rank is still up."""
    return any(
        (call_name(c) or "").endswith("destroy_process_group") for c in stmt.calls
    )


def _is_return(stmt: Stmt) -> bool:
    return any(isinstance(s, cst.Return) for s in small_statements(stmt.node))


def _exits(stmt: Stmt) -> bool:
    expression = expression_of(stmt.node)
    if isinstance(expression, cst.Call) and call_name(expression) in _EXITS:
        return True
    return any(isinstance(s, cst.Raise) for s in small_statements(stmt.node))


def _never_ends(plan: Plan, start: Stmt) -> bool:
    node = start.node
    if not isinstance(node, cst.While):
        return False
    test = node.test
    forever = (isinstance(test, cst.Name) and test.value == "True") or (
        isinstance(test, cst.Integer) and test.value != "0"
    )
    if not forever:
        return False
    for stmt in plan.script.inside(start):
        own_loop = [loop for loop in stmt.loops if start in (*loop.parents, loop)]
        for small in small_statements(stmt.node):
            if isinstance(small, cst.Return | cst.Raise):
                return False
            if isinstance(small, cst.Break) and stmt.loops and stmt.loops[-1] is start:
                return False
        del own_loop
        if any(call_name(c) in _EXITS for c in stmt.calls):
            return False
    return True
