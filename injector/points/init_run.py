"""Start one W&B run with the script's full configuration, once it is complete.

Leaves alone scripts that already call `wandb.init`, and scripts whose configuration
it cannot find: a run without its config is worse than no change.
"""

from __future__ import annotations

import json
import re

import libcst as cst

from injector._matchers import (
    assigned_names,
    call_name,
    expression_of,
    positional_args,
    root_name,
    small_statements,
)
from injector.collected import constants, inline_settings
from injector.config import KIND_ORDER, ConfigSite, find_config_sites
from injector.frameworks.fabric import fabric_use
from injector.points import Plan
from injector.points.init_code import place_init
from injector.points.run_scope import (
    after_docstring,
    entry_block,
    function_block,
    main_guard_start,
    spawn_reason,
    training_start,
)
from injector.points.spawned import init_in_worker, spawning_scope
from injector.reports import is_report_call
from injector.result import Point
from injector.script import Block, Scope, Stmt
from injector.training import calls_trainer

DESCRIPTION = "Start one W&B run with the full configuration once it is complete."


def plan_init(plan: Plan) -> bool:
    """Plan the init; False when the file must be left as it is."""
    tracking = plan.tracking
    if tracking.inits:
        first = tracking.inits[0]
        plan.omit_existing(Point.INIT, "wandb.init", tracking.inits)
        plan.omit(
            Point.FINISH, "the script already starts its own run; W&B ends it at exit"
        )
        if not _runs_before_training(plan, first):
            plan.omit(
                Point.TRAIN_LOG,
                "the script's `wandb.init` (line {0}) runs after its training, so "
                "a log call in the loop would come before the run exists",
                (first.node,),
            )
            return False
        if not tracking.has_top_level_import:
            plan.omit(
                Point.TRAIN_LOG,
                "wandb is imported only inside a block, so a log call elsewhere could "
                "not see it; left as it is",
            )
            return False
        if tracking.init_is_conditional:
            plan.log_condition = "wandb.run is not None"
        return True
    spawner = spawning_scope(plan)
    site = _choose_site(plan, spawner)
    in_worker = init_in_worker(plan, site)
    if in_worker is not None:
        return in_worker
    if site is not None:
        return _init_after_site(plan, site)
    return _init_with_collected(plan)


def _choose_site(plan: Plan, spawner: Scope | None) -> ConfigSite | None:
    """The most complete config built where training starts (or is spawned)."""
    sites = [
        s
        for s in find_config_sites(plan.script)
        if s.scope.kind == "module"
        or s.scope.name in plan.trainers
        or s.scope is spawner
    ]
    for kind in KIND_ORDER:
        of_kind = [s for s in sites if s.kind == kind]
        if of_kind:
            first_scope = of_kind[0].scope
            return [s for s in of_kind if s.scope is first_scope][-1]
    return None


def _init_after_site(plan: Plan, site: ConfigSite) -> bool:
    located = _site_position(plan, site)
    if located is None:
        return False
    block, after = located
    start = training_start(plan, block, after)
    if start is None:
        plan.omit(Point.INIT, _no_start_reason(plan, site))
        return False
    names = set(site.names)
    guarded = main_guard_start(plan, start)
    if guarded is not None:
        # The config is built at module level but training starts under
        # `if __name__ == "__main__":`; a run started there does not start on import.
        start, block, after = guarded, guarded.block, -1
    changed = _last_mutation(plan, block, after, start.index, names)
    settled = _rank_binding(plan, block, changed, start.index)
    why, evidence = _site_reason(site, block, changed, settled)
    expression = site.expression
    launcher = _fabric_launcher(plan, site, start)
    if launcher is not None:
        block, settled, start, expression, param = launcher
        why += (
            f"; Fabric launches in `{block.statements[0].scope.name}`, which receives "
            f"it as `{param}`: the run starts there"
        )
    for module, name in site.imports:
        plan.need_import(module, name)
    plan.config = site
    if site.kind in ("argparse", "dataclass", "hf_argparser", "omegaconf", "hydra"):
        plan.kinds.settings.update(site.names)
    plan.config_kind = site.kind
    plan.config_expression = expression
    return place_init(plan, block, settled, start, expression, why, evidence)


def _fabric_launcher(
    plan: Plan, site: ConfigSite, start: Stmt
) -> tuple[Block, int, Stmt, str, str] | None:
    """Where the run starts when `start` passes the config to the function that
    launches Fabric: that function's body, after the launch, with the config under
    its parameter's name."""
    fabric = fabric_use(plan) if plan.framework == "lightning fabric" else None
    if fabric is None or fabric.launch is None:
        return None
    scope = fabric.launch.scope
    if scope is start.scope or scope.kind != "function" or len(site.names) != 1:
        return None
    body = next(
        (s.block for s in plan.script.statements if s.scope is scope and not s.parents),
        None,
    )
    launched = fabric.launch.top_in(body) if body is not None else None
    param = _parameter_receiving(start, scope, site.names[0])
    if body is None or launched is None or param is None:
        return None
    inner_start = training_start(plan, body, launched.index)
    if inner_start is None:
        return None
    expression = re.sub(rf"\b{site.names[0]}\b", param, site.expression)
    return body, launched.index, inner_start, expression, param


def _parameter_receiving(start: Stmt, scope: Scope, name: str) -> str | None:
    """The parameter of `scope` that a call to it in `start` passes `name` to."""
    for call in start.calls:
        if not (isinstance(call.func, cst.Name) and call.func.value == scope.name):
            continue
        for position, arg in enumerate(call.args):
            if not (isinstance(arg.value, cst.Name) and arg.value.value == name):
                continue
            if arg.keyword is not None and arg.keyword.value in scope.params:
                return arg.keyword.value
            if arg.keyword is None and arg.star == "" and position < len(scope.params):
                return scope.params[position]
    return None


def _site_position(plan: Plan, site: ConfigSite) -> tuple[Block, int] | None:
    """The block holding the config, and the index after which it is built."""
    anchor = site.stmt
    if isinstance(anchor.node, cst.FunctionDef):
        body = function_block(plan, anchor)
        if body is None:
            plan.omit(Point.INIT, "the configured function has an empty body")
            return None
        return body, after_docstring(body)
    while anchor.parents and isinstance(anchor.parents[-1].node, cst.With):
        anchor = anchor.parents[-1]
    return anchor.block, anchor.index


def _site_reason(
    site: ConfigSite, block: Block, changed: int, settled: int
) -> tuple[str, tuple[cst.BaseStatement, ...]]:
    """Why init goes where it does: the config, its last change, the process setup."""
    why = f"{_kind_words(site.kind)} `{site.names[0]}` is built on line {{0}}"
    evidence: tuple[cst.BaseStatement, ...] = (site.stmt.node,)
    site_index = site.stmt.index if site.stmt.block is block else -1
    if (
        changed > site_index
        and changed >= 0
        and block.statements[changed] is not site.stmt
    ):
        line = f"{{{len(evidence)}}}"
        why += f"; placed after its last change before training, on line {line}"
        evidence = (*evidence, block.statements[changed].node)
    if settled > changed:
        why += f"; and after the rank is known, on line {{{len(evidence)}}}"
        evidence = (*evidence, block.statements[settled].node)
    return why, evidence


def _runs_before_training(plan: Plan, init: Stmt) -> bool:
    """For an init at module level: whether it precedes the statement that trains."""
    if init.scope.kind != "module":
        return True
    module_block = plan.script.statements[0].block
    top = init.top_in(module_block)
    start = training_start(plan, module_block, -1)
    return top is None or start is None or top.index <= start.index


def _no_start_reason(plan: Plan, site: ConfigSite) -> str:
    spawned = spawn_reason(plan)
    return (
        spawned
        or f"nothing after the config `{site.names[0]}` in its block starts training"
    )


def _rank_binding(plan: Plan, block: Block, after: int, stop: int) -> int:
    """The last statement before training that binds a name of the script's own
    global rank check (`rank, local_rank = setup()`): the run starts after it, so
    that check can decide which process records."""
    if plan.distribution is None:
        return after
    names = {
        name
        for check in plan.distribution.checks
        if check.is_global
        for name in re.findall(r"\b[A-Za-z_]\w*\b", check.code)
    }
    last = after
    for stmt in block.statements[after + 1 : stop]:
        assignment = small_statements(stmt.node)
        bound = {
            name
            for small in assignment
            if isinstance(small, cst.Assign)
            for target in small.targets
            for name in assigned_names(target.target)
        }
        if bound & names:
            last = stmt.index
    return last


def _kind_words(kind: str) -> str:
    return {
        "argparse": "the argparse namespace",
        "hf_argparser": "the HfArgumentParser dataclasses",
        "hydra": "the Hydra config",
        "omegaconf": "the OmegaConf config",
        "dataclass": "the config dataclass",
        "dict": "the config dict",
    }.get(kind, "the config")


def _last_mutation(
    plan: Plan, block: Block, after: int, stop: int, names: set[str]
) -> int:
    """The index of the last statement before `stop` that changes the config."""
    last = after
    for stmt in block.statements[after + 1 : stop]:
        if _mutates(plan, stmt, names):
            last = stmt.index
    return last


def _mutates(plan: Plan, top: Stmt, names: set[str]) -> bool:
    nested = [top, *plan.script.inside(top)]
    for stmt in nested:
        node = stmt.node
        if not isinstance(node, cst.SimpleStatementLine):
            continue
        for small in node.body:
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
            elif isinstance(small, cst.AugAssign | cst.AnnAssign):
                targets = [small.target]
            else:
                targets = []
            for target in targets:
                if root_name(target) in names or set(assigned_names(target)) & names:
                    return True
        expression = expression_of(node)
        if isinstance(expression, cst.Call) and not is_report_call(expression):
            if calls_trainer(stmt, plan.trainers):
                continue
            # A helper that takes only the config may fill it in (a distributed
            # setup writing rank and device); one that takes more just reads it.
            args = positional_args(expression)
            if call_name(expression) == "setattr" or len(args) == 1:
                if args and isinstance(args[0], cst.Name) and args[0].value in names:
                    return True
            if root_name(expression.func) in names:
                return True
    return False


def _init_with_collected(plan: Plan) -> bool:
    entry = entry_block(plan)
    if entry is None:
        plan.omit(
            Point.INIT,
            spawn_reason(plan) or "no statement in this file starts the training",
        )
        return False
    block, start = entry
    found = constants(plan.script, block, start)
    if found:
        after = max(
            (s.index for s, _ in found if s.block is block and s.index < start.index),
            default=after_docstring(block),
        )
        entries = [(name.lower(), name) for _, name in found]
        names = ", ".join(name for _, name in found)
        why = f"no config object; collected the hyperparameter constants {names}"
    else:
        entries = inline_settings(plan.script, plan.loops, start)
        if not entries:
            plan.omit(
                Point.INIT,
                "no configuration found (argparse, OmegaConf, Hydra, dataclass, dict) "
                "and no hyperparameter values to collect",
            )
            return False
        after = start.index - 1
        names = ", ".join(key for key, _ in entries)
        why = f"no config object; collected the literal settings {names} from the code"
    expression = _dict_code(entries)
    plan.config_kind = "collected"
    plan.config_expression = expression
    return place_init(plan, block, after, start, expression, why.replace("{", "{{"), ())


def _dict_code(pairs: list[tuple[str, str]]) -> str:
    entries = [f"{json.dumps(key)}: {value}" for key, value in pairs]
    one_line = "{" + ", ".join(entries) + "}"
    if len(one_line) <= 60:
        return one_line
    inner = "".join(f"        {entry},\n" for entry in entries)
    return "{\n" + inner + "    }"
