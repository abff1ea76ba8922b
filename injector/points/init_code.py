"""The `wandb.init` call itself: project, config, and the rank-0 guard."""

from __future__ import annotations

import libcst as cst

from injector.edits import Where
from injector.frameworks.fabric import fabric_use
from injector.points import Plan, insertable
from injector.points.rank_zero_guard import FORM, Guard, choose_guard
from injector.result import Point
from injector.script import Block, Stmt


def place_init(
    plan: Plan,
    block: Block,
    after: int,
    start: Stmt,
    config: str,
    why: str,
    evidence: tuple[cst.BaseStatement, ...],
    fallback: Guard | None = None,
) -> bool:
    """Insert `wandb.init` after statement `after` of `block` (before the first
    when it is -1); `start` is the statement that starts training there."""
    setup = _process_setup(plan, block, after, start.index)
    if setup is not None:
        after = setup
        why += f"; after the process setup on line {{{len(evidence)}}}"
        evidence = (*evidence, block.statements[setup].node)
    fabric = fabric_use(plan) if plan.framework == "lightning fabric" else None
    if fabric is not None:
        launched = fabric.launched_in(block, after, start.index)
        if launched is not None:
            after = launched
            why += f"; after Fabric launches, on line {{{len(evidence)}}}"
            evidence = (*evidence, block.statements[launched].node)
        fallback = fallback or fabric.guard
    anchor = block.statements[after] if after >= 0 else block.statements[0]
    where: Where = "after" if after >= 0 else "before"
    if not insertable(anchor):
        plan.omit(Point.INIT, "the config is built on a one-line block")
        return False
    if plan.tracker:
        return _init_trackers(plan, block, after, start, config, why, evidence)
    names = plan.run_names()
    lines = [f"{key}={code}" for key, code in names.items()] + [f"config={config}"]
    runs_at = block.statements[after + 1] if where == "after" else anchor
    guard = choose_guard(plan, runs_at, fallback)
    if guard is not None:
        plan.guard = guard
        lines.append(f'mode=None if {guard.code} else "disabled"')
        why += "; " + guard.why.replace("{0}", f"{{{len(evidence)}}}")
        why += f"; {FORM}"
        evidence = (*evidence, *guard.evidence)
    body = "".join(f"    {line},\n" for line in lines)
    plan.insert(anchor, where, f"wandb.init(\n{body})\n", Point.INIT, why, evidence)
    plan.need_import("wandb")
    plan.run_block = block
    plan.run_start = start
    return True


def _process_setup(plan: Plan, block: Block, after: int, stop: int) -> int | None:
    """The last statement of `block` between `after` and `stop` that sets up the
    processes (`hvd.init()`, `init_process_group`): rank calls fail before it."""
    if plan.distribution is None:
        return None
    tops = (s.top_in(block) for s in plan.distribution.setup)
    found = [t.index for t in tops if t is not None and after < t.index < stop]
    return max(found, default=None)


def _init_trackers(
    plan: Plan,
    block: Block,
    after: int,
    start: Stmt,
    config: str,
    why: str,
    evidence: tuple[cst.BaseStatement, ...],
) -> bool:
    """Accelerate's `init_trackers`, once both the accelerator and the config exist."""
    built = plan.tracker_stmt.top_in(block) if plan.tracker_stmt else None
    if built is not None and built.index > after:
        if built.index >= start.index:
            plan.omit(Point.INIT, "the accelerator is built after training starts")
            return False
        after = built.index
        why += f"; after the accelerator is built, on line {{{len(evidence)}}}"
        evidence = (*evidence, built.node)
    anchor = block.statements[after] if after >= 0 else block.statements[0]
    where: Where = "after" if after >= 0 else "before"
    names = plan.run_names()
    lines = [names.pop("project"), f"config={config}"]
    if names:
        kwargs = ", ".join(f'"{key}": {code}' for key, code in names.items())
        lines.append(f'init_kwargs={{"wandb": {{{kwargs}}}}}')
    body = "".join(f"    {line},\n" for line in lines)
    code = f"{plan.tracker}.init_trackers(\n{body})\n"
    why += "; Accelerate starts the run on the main process only"
    plan.insert(anchor, where, code, Point.INIT, why, evidence)
    plan.run_block, plan.run_start = block, start
    return True
