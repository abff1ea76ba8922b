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
    is_docstring,
    method_name,
    positional_args,
    root_name,
)
from injector.config import HYPERPARAMETER, KIND_ORDER, ConfigSite, find_config_sites
from injector.edits import Where
from injector.points import Plan, insertable
from injector.result import Point
from injector.script import Block, Stmt
from injector.training import calls_trainer
from injector.values import code_of, is_report_call

_OPTIMIZER_OR_LOADER = re.compile(
    r"(optim\.|SGD|Adam|RMSprop|Adagrad|Lion|DataLoader|Scheduler|LR)\w*$"
)
DESCRIPTION = "Start one W&B run with the full configuration once it is complete."


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


def _block_scope(block: Block) -> object:
    return block.statements[0].scope if block.statements else None


def plan_init(plan: Plan) -> bool:
    """Plan the init; False when the file must be left as it is."""
    tracking = plan.tracking
    if tracking.inits:
        first = tracking.inits[0]
        plan.omit(
            Point.INIT,
            "the script already calls `wandb.init` (line {0})",
            (first.node,),
        )
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
    site = _choose_site(plan)
    if site is not None:
        return _init_after_site(plan, site)
    return _init_with_collected(plan)


def _choose_site(plan: Plan) -> ConfigSite | None:
    sites = [
        s
        for s in find_config_sites(plan.script)
        if s.scope.kind == "module" or s.scope.name in plan.trainers
    ]
    for kind in KIND_ORDER:
        of_kind = [s for s in sites if s.kind == kind]
        if of_kind:
            first_scope = of_kind[0].scope
            return [s for s in of_kind if s.scope is first_scope][-1]
    return None


def _init_after_site(plan: Plan, site: ConfigSite) -> bool:
    anchor = site.stmt
    if isinstance(anchor.node, cst.FunctionDef):
        body = _function_block(plan, anchor)
        if body is None:
            plan.omit(Point.INIT, "the configured function has an empty body")
            return False
        block, after = body, _after_docstring(body)
    else:
        while anchor.parents and isinstance(anchor.parents[-1].node, cst.With):
            anchor = anchor.parents[-1]
        block, after = anchor.block, anchor.index
    start = training_start(plan, block, after)
    if start is None:
        plan.omit(Point.INIT, _no_start_reason(plan, site))
        return False
    after = _last_mutation(plan, block, after, start.index, set(site.names))
    guarded = _main_guard_start(plan, start)
    if guarded is not None:
        # The config is built at module level but training starts under
        # `if __name__ == "__main__":`; a run started there does not start on import.
        start = guarded
        block = guarded.block
        after = _last_mutation(plan, block, -1, start.index, set(site.names))
    site_stmt = site.stmt
    mutated = (
        after > (site_stmt.index if site_stmt.block is block else -1) and after >= 0
    )
    why = f"{_kind_words(site.kind)} `{site.names[0]}` is built on line {{0}}"
    evidence: tuple[cst.BaseStatement, ...] = (site_stmt.node,)
    if mutated and block.statements[after] is not site_stmt:
        why += "; placed after its last change before training, on line {1}"
        evidence = (*evidence, block.statements[after].node)
    for module, name in site.imports:
        plan.need_import(module, name)
    plan.config = site
    if site.kind in ("argparse", "dataclass", "hf_argparser", "omegaconf", "hydra"):
        plan.kinds.settings.update(site.names)
    plan.config_kind = site.kind
    plan.config_expression = site.expression
    return _place(plan, block, after, start, site.expression, why, evidence)


def _main_guard_start(plan: Plan, start: Stmt) -> Stmt | None:
    """The statement inside an `if __name__ == "__main__":` start that trains."""
    node = start.node
    if not (isinstance(node, cst.If) and "__name__" in code_of(node.test)):
        return None
    for stmt in plan.script.inside(start):
        if stmt.parents[-1] is start and stmt.block.statements:
            return training_start(plan, stmt.block, -1)
    return None


def _runs_before_training(plan: Plan, init: Stmt) -> bool:
    """For an init at module level: whether it precedes the statement that trains."""
    if init.scope.kind != "module":
        return True
    module_block = plan.script.statements[0].block
    top = init.top_in(module_block)
    start = training_start(plan, module_block, -1)
    return top is None or start is None or top.index <= start.index


def _no_start_reason(plan: Plan, site: ConfigSite) -> str:
    spawned = _spawn_reason(plan)
    return (
        spawned
        or f"nothing after the config `{site.names[0]}` in its block starts training"
    )


def _spawn_reason(plan: Plan) -> str | None:
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


def _kind_words(kind: str) -> str:
    return {
        "argparse": "the argparse namespace",
        "hf_argparser": "the HfArgumentParser dataclasses",
        "hydra": "the Hydra config",
        "omegaconf": "the OmegaConf config",
        "dataclass": "the config dataclass",
        "dict": "the config dict",
    }.get(kind, "the config")


def _function_block(plan: Plan, stmt: Stmt) -> Block | None:
    for candidate in plan.script.statements:
        if candidate.parents == () and candidate.scope.node is stmt.node:
            return candidate.block
    return None


def _after_docstring(block: Block) -> int:
    first = block.statements[0] if block.statements else None
    return 0 if first is not None and is_docstring(first.node) else -1


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
    entry = _entry_block(plan)
    if entry is None:
        plan.omit(
            Point.INIT,
            _spawn_reason(plan) or "no statement in this file starts the training",
        )
        return False
    block, start = entry
    constants = _constants(plan, block, start)
    if constants:
        after = max(
            (
                s.index
                for s, _ in constants
                if s.block is block and s.index < start.index
            ),
            default=_after_docstring(block),
        )
        entries = [(name.lower(), name) for _, name in constants]
        names = ", ".join(name for _, name in constants)
        why = f"no config object; collected the hyperparameter constants {names}"
    else:
        entries = _inline_settings(plan, start)
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
    return _place(plan, block, after, start, expression, why.replace("{", "{{"), ())


def _inline_settings(plan: Plan, start: Stmt) -> list[tuple[str, str]]:
    """Inline literal settings: optimizer and loader keywords, loop lengths."""
    entries: dict[str, str] = {}
    for stmt in plan.script.statements:
        if stmt.scope is not start.scope:
            continue
        for call in stmt.calls:
            if not _OPTIMIZER_OR_LOADER.search(call_name(call) or ""):
                continue
            for arg in call.args:
                if arg.keyword is not None and _is_literal(arg.value):
                    entries.setdefault(arg.keyword.value, code_of(arg.value).strip())
    for training in plan.loops:
        for loop in (*training.loop.loops, training.loop):
            node = loop.node
            if not (isinstance(node, cst.For) and isinstance(node.target, cst.Name)):
                continue
            iterable = node.iter
            if isinstance(iterable, cst.Call) and call_name(iterable) == "range":
                bounds = positional_args(iterable)
                if bounds and _is_literal(bounds[-1]):
                    key = "epochs" if "epoch" in node.target.value else "steps"
                    entries.setdefault(key, code_of(bounds[-1]).strip())
    return list(entries.items())


def _entry_block(plan: Plan) -> tuple[Block, Stmt] | None:
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
    start = _outermost(start)
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


def _outermost(stmt: Stmt) -> Stmt:
    """The statement around `stmt` that a run should enclose: not inside its loops,
    but inside an `if __name__ == "__main__":` block."""
    for parent in reversed(stmt.parents):
        node = parent.node
        if isinstance(node, cst.If) and "__name__" in code_of(node.test):
            break
        stmt = parent
    return stmt


def _constants(plan: Plan, block: Block, start: Stmt) -> list[tuple[Stmt, str]]:
    found: dict[str, Stmt] = {}
    module_scope = plan.script.module_scope
    for stmt in plan.script.statements:
        if stmt.parents or stmt.scope not in (module_scope, start.scope):
            continue
        if stmt.block is block and stmt.index >= start.index:
            continue
        name = _constant_name(stmt)
        if name and HYPERPARAMETER.search(name):
            found[name] = stmt
    return [(stmt, name) for name, stmt in found.items()]


def _constant_name(stmt: Stmt) -> str | None:
    node = stmt.node
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return None
    small = node.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target, value = small.target, small.value
    else:
        return None
    if isinstance(target, cst.Name) and _is_literal(value):
        return target.value
    return None


def _is_literal(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.Integer | cst.Float | cst.SimpleString):
        return True
    if isinstance(value, cst.Name):
        return value.value in ("True", "False", "None")
    if isinstance(value, cst.UnaryOperation):
        return _is_literal(value.expression)
    if isinstance(value, cst.BinaryOperation):
        return _is_literal(value.left) and _is_literal(value.right)
    if isinstance(value, cst.Tuple | cst.List):
        return all(_is_literal(e.value) for e in value.elements)
    return False


def _dict_code(pairs: list[tuple[str, str]]) -> str:
    entries = [f"{json.dumps(key)}: {value}" for key, value in pairs]
    one_line = "{" + ", ".join(entries) + "}"
    if len(one_line) <= 60:
        return one_line
    inner = "".join(f"        {entry},\n" for entry in entries)
    return "{\n" + inner + "    }"


def _project_code(plan: Plan) -> str:
    project = json.dumps(plan.options.project_for(plan.path))
    if plan.script.module_scope.resolves("os"):
        owner = "os"
    else:
        plan.need_import("os")
        owner = "os"
    return f'{owner}.environ.get("WANDB_PROJECT", {project})'


def _place(
    plan: Plan,
    block: Block,
    after: int,
    start: Stmt,
    config: str,
    why: str,
    evidence: tuple[cst.BaseStatement, ...],
) -> bool:
    anchor = block.statements[after] if after >= 0 else block.statements[0]
    where: Where = "after" if after >= 0 else "before"
    if not insertable(anchor):
        plan.omit(Point.INIT, "the config is built on a one-line block")
        return False
    code = f"wandb.init(\n    project={_project_code(plan)},\n    config={config},\n)\n"
    plan.insert(anchor, where, code, Point.INIT, why, evidence)
    plan.need_import("wandb")
    plan.run_block = block
    plan.run_start = start
    return True
