"""Lightning's Trainer: pass it a WandbLogger, next to any logger it already has.

Lightning then records the hyperparameters the model saves and every metric the
model logs; nothing else is added. `Trainer(logger=False)` becomes the W&B logger:
the tool was asked to add tracking. LightningCLI entry points, which build their
Trainer from `trainer_defaults`, are left as they are, with a reason.
"""

from __future__ import annotations

import libcst as cst

from injector._matchers import call_name, dotted, keyword_arg, small_statements
from injector.frameworks import config_before, with_keyword
from injector.points import Plan, insertable
from injector.result import Point
from injector.script import Stmt

DESCRIPTION = "Pass Lightning's Trainer a WandbLogger."
_PACKAGES = ("lightning.pytorch", "pytorch_lightning", "lightning")


def plan_lightning(plan: Plan) -> bool:
    """True when the script trains with Lightning; its Trainer calls are handled."""
    package = _imported_package(plan)
    if package is None:
        return False
    plan.framework = "lightning"
    sites = [
        (stmt, call)
        for stmt in plan.script.statements
        for call in stmt.calls
        if (call_name(call) or "").split(".")[-1] == "Trainer"
    ]
    if not sites and _builds_fabric(plan):
        # Fabric leaves the loop to the script: it gets the plain calls.
        plan.framework = "lightning fabric"
        return False
    if not sites:
        plan.omit(
            Point.INTEGRATION,
            "Lightning without a `Trainer(...)` call here (LightningCLI builds it): "
            "set a WandbLogger in its trainer defaults or config",
        )
        return True
    for stmt, call in sites:
        _add_logger(plan, stmt, call)
    loggers = (
        "pytorch_lightning.loggers"
        if package == "pytorch_lightning"
        else ("lightning.pytorch.loggers")
    )
    plan.need_import(loggers, "WandbLogger")
    return True


def _builds_fabric(plan: Plan) -> bool:
    return any(
        (call_name(call) or "").split(".")[-1] == "Fabric"
        for stmt in plan.script.statements
        for call in stmt.calls
    )


def _imported_package(plan: Plan) -> str | None:
    for stmt in plan.script.in_scope(plan.script.module_scope):
        for small in small_statements(stmt.node):
            if isinstance(small, cst.ImportFrom):
                module = dotted(small.module) or ""
            elif isinstance(small, cst.Import):
                module = " ".join(dotted(a.name) or "" for a in small.names)
            else:
                continue
            for package in _PACKAGES:
                if module == package or module.startswith(package + "."):
                    return (
                        "pytorch_lightning"
                        if package == "pytorch_lightning"
                        else ("lightning")
                    )
    return None


def _add_logger(plan: Plan, stmt: Stmt, call: cst.Call) -> None:
    if not insertable(stmt) or len(small_statements(stmt.node)) != 1:
        plan.omit(Point.INTEGRATION, "the Trainer is built on a one-line block")
        return
    name = stmt.scope.unused_name("wandb_logger")
    plan.insert(
        stmt,
        "before",
        _wandb_logger(plan, stmt, name),
        Point.INTEGRATION,
        "the W&B logger for the Trainer on line {0}",
        (stmt.node,),
    )
    logger = cst.Name(name)
    existing = keyword_arg(call, "logger")
    if existing is None or (
        isinstance(existing, cst.Name) and existing.value in ("False", "None")
    ):
        value: cst.BaseExpression = logger
        why = "Lightning logs to W&B through the Trainer's logger, on line {0}"
    elif isinstance(existing, cst.List):
        elements = [*existing.elements, cst.Element(logger)]
        value = existing.with_changes(elements=elements)
        why = "the Trainer on line {0} keeps its loggers and gains W&B's"
    else:
        value = cst.List([cst.Element(existing), cst.Element(logger)])
        why = "the Trainer on line {0} keeps its logger and gains W&B's"
    new_call = with_keyword(call, "logger", value)
    new_stmt = stmt.node.deep_replace(call, new_call)
    assert isinstance(new_stmt, cst.SimpleStatementLine)
    code = plan.module.code_for_node(new_stmt).strip()
    plan.replace(stmt, new_stmt, code, Point.INTEGRATION, why, (stmt.node,))


def _wandb_logger(plan: Plan, stmt: Stmt, name: str) -> str:
    """`name = WandbLogger(...)`, with the project and any config built before."""
    lines = [f"{key}={code}" for key, code in plan.run_names().items()]
    config = config_before(plan, stmt)
    if config is not None:
        lines.append(f"config={config}")
    body = "".join(f"    {line},\n" for line in lines)
    return f"{name} = WandbLogger(\n{body})\n"
