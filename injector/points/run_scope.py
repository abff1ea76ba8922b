"""Where a run lives: the block that starts training, and what comes before it."""

from __future__ import annotations

import libcst as cst

from injector._matchers import call_name, is_docstring, method_name
from injector.points import Plan
from injector.script import Block, Scope, Stmt
from injector.training import calls_trainer
from injector.values import code_of


def starts_training(stmt: Stmt, plan: Plan) -> bool:
    """Whether this statement itself runs a training loop or calls a trainer."""
    if any(t.loop is stmt for t in plan.loops):
        return True
    return calls_trainer(stmt, plan.trainers)


def training_start(plan: Plan, block: Block, after: int) -> Stmt | None:
    """The first statement of `block` past index `after` that starts training."""
    best: Stmt | None = None
    for stmt in plan.script.statements:
        if stmt.scope is not _block_scope(block) or not starts_training(stmt, plan):
            continue
        top = stmt.top_in(block)
        if (
            top is not None
            and top.index > after
            and (best is None or top.index < best.index)
        ):
            best = top
    return best


def _block_scope(block: Block) -> Scope | None:
    return block.statements[0].scope if block.statements else None


def main_guard_start(plan: Plan, start: Stmt) -> Stmt | None:
    """The statement inside an `if __name__ == "__main__":` start that trains."""
    node = start.node
    if not (isinstance(node, cst.If) and "__name__" in code_of(node.test)):
        return None
    for stmt in plan.script.inside(start):
        if stmt.parents[-1] is start and stmt.block.statements:
            return training_start(plan, stmt.block, -1)
    return None


def spawn_reason(plan: Plan) -> str | None:
    for stmt in plan.script.statements:
        for call in stmt.calls:
            if method_name(call) == "spawn" or (call_name(call) or "").endswith(
                "Process"
            ):
                return (
                    "training runs in worker processes started with "
                    f"`{call_name(call)}`; starting the run inside the worker is not "
                    "supported yet, and a run in the parent would record nothing"
                )
    return None


def function_block(plan: Plan, stmt: Stmt) -> Block | None:
    for candidate in plan.script.statements:
        if candidate.parents == () and candidate.scope.node is stmt.node:
            return candidate.block
    return None


def after_docstring(block: Block) -> int:
    first = block.statements[0] if block.statements else None
    return 0 if first is not None and is_docstring(first.node) else -1


def entry_block(plan: Plan) -> tuple[Block, Stmt] | None:
    """Where the run lives when there is no config: the block that starts training."""
    module_block = plan.script.statements[0].block if plan.script.statements else None
    if module_block is None:
        return None
    start = next(
        (
            s
            for s in plan.script.statements
            if s.scope.kind == "module" and starts_training(s, plan)
        ),
        None,
    )
    if start is None:
        return None
    start = outermost(start)
    for call in start.calls:
        func = call.func
        if isinstance(func, cst.Name) and func.value in plan.script.functions:
            scope = plan.script.functions[func.value][-1]
            body = next(
                (
                    s
                    for s in plan.script.statements
                    if s.scope is scope and not s.parents
                ),
                None,
            )
            if body is None:
                continue
            inner = training_start(plan, body.block, -1)
            if inner is not None:
                return body.block, inner
            loops = [t for t in plan.loops if t.scope is scope]
            if loops:
                top = loops[0].loop.top_in(body.block)
                if top is not None:
                    return body.block, top
    return start.block, start


def outermost(stmt: Stmt) -> Stmt:
    """The statement around `stmt` that a run should enclose: not inside its loops,
    but inside an `if __name__ == "__main__":` block."""
    for parent in reversed(stmt.parents):
        node = parent.node
        if isinstance(node, cst.If) and "__name__" in code_of(node.test):
            break
        stmt = parent
    return stmt
