"""Runs for training that `mp.spawn` starts in worker processes.

The parent only parses arguments and spawns; a run started there would be an
orphan while the workers record nothing. So the run starts inside the worker,
after its process group is set up, with the config the parent passes it. The
launcher sets no RANK for spawned workers: the guard falls back to the process
group's own global rank.
"""

from __future__ import annotations

import re

import libcst as cst

from injector._matchers import call_name, keyword_arg, method_name, positional_args
from injector.config import ConfigSite
from injector.points import Plan
from injector.points.init_code import place_init
from injector.points.rank_zero_guard import Guard
from injector.points.run_scope import after_docstring, training_start
from injector.result import Point
from injector.script import Block, Scope, Stmt


def init_in_worker(plan: Plan, site: ConfigSite | None) -> bool | None:
    """Plan the init in a spawned worker; None when training is not spawned."""
    spawned = _spawned_worker(plan)
    if spawned is None:
        return None
    stmt, call, worker = spawned
    block = _body(plan, worker)
    config = _worker_config(call, worker, site)
    if site is None or config is None or block is None:
        plan.omit(
            Point.INIT,
            f"training runs in workers started with `{call_name(call)}`, and the "
            "config does not reach them as an argument",
        )
        return False
    after = _group_setup(block)
    start = training_start(plan, block, after)
    if start is None:
        plan.omit(Point.INIT, f"`{worker.name}` does not start training")
        return False
    plan.config, plan.config_kind, plan.config_expression = site, site.kind, config
    why = (
        f"training runs in `{worker.name}`, started in worker processes by "
        "`" + (call_name(call) or "spawn") + "` on line {0}; the run starts there, "
        "after the process group is set up"
    )
    return place_init(
        plan, block, after, start, config, why, (stmt.node,), _fallback(plan)
    )


def spawning_scope(plan: Plan) -> Scope | None:
    """The function (or module) that spawns the training workers."""
    spawned = _spawned_worker(plan)
    return spawned[0].scope if spawned is not None else None


def _spawned_worker(plan: Plan) -> tuple[Stmt, cst.Call, Scope] | None:
    for stmt in plan.script.statements:
        for call in stmt.calls:
            args = positional_args(call)
            if method_name(call) != "spawn" or not args:
                continue
            target = args[0]
            if isinstance(target, cst.Name) and target.value in plan.trainers:
                scopes = plan.script.functions.get(target.value)
                if scopes:
                    return stmt, call, scopes[-1]
    return None


def _worker_config(
    call: cst.Call, worker: Scope, site: ConfigSite | None
) -> str | None:
    """The config expression, in terms of the worker's parameter that receives it.

    `mp.spawn(fn, args=(a, b))` calls `fn(index, a, b)`.
    """
    if site is None or len(site.names) != 1:
        return None
    passed = keyword_arg(call, "args")
    positional = positional_args(call)
    if passed is None and len(positional) > 1:
        passed = positional[1]
    if not isinstance(passed, cst.Tuple):
        return None
    for position, element in enumerate(passed.elements, start=1):
        value = element.value
        if isinstance(value, cst.Name) and value.value == site.names[0]:
            if position < len(worker.params):
                name = worker.params[position]
                return re.sub(rf"\b{site.names[0]}\b", name, site.expression)
    return None


def _body(plan: Plan, scope: Scope) -> Block | None:
    first = next((s for s in plan.script.in_scope(scope) if not s.parents), None)
    return first.block if first is not None else None


def _group_setup(block: Block) -> int:
    """The index of the statement that sets up the process group, if any."""
    for stmt in block.statements:
        if any((call_name(c) or "").endswith("init_process_group") for c in stmt.calls):
            return stmt.index
    return after_docstring(block)


def _fallback(plan: Plan) -> Guard:
    module = plan.script.module_scope
    owner = "dist" if "dist" in module.bound else "torch.distributed"
    why = (
        "under mp.spawn no launcher sets RANK; the process group exists here, so "
        f"`{owner}.get_rank()` is the global rank"
    )
    return Guard(f"{owner}.get_rank() == 0", why)
