"""Hyperparameters gathered from a script that has no config object."""

from __future__ import annotations

import re

import libcst as cst

from injector._matchers import call_name, positional_args
from injector.config import HYPERPARAMETER
from injector.script import Block, Script, Stmt
from injector.training import TrainingLoop
from injector.values import code_of

_OPTIMIZER_OR_LOADER = re.compile(
    r"(optim\.|SGD|Adam|RMSprop|Adagrad|Lion|DataLoader|Scheduler|LR)\w*$"
)


def inline_settings(
    script: Script, loops: list[TrainingLoop], start: Stmt
) -> list[tuple[str, str]]:
    """Literal settings written inline: optimizer and loader keywords, loop lengths."""
    entries: dict[str, str] = {}
    for stmt in script.in_scope(start.scope):
        for call in stmt.calls:
            if not _OPTIMIZER_OR_LOADER.search(call_name(call) or ""):
                continue
            for arg in call.args:
                if arg.keyword is not None and is_literal(arg.value):
                    entries.setdefault(arg.keyword.value, code_of(arg.value).strip())
    for training in loops:
        for loop in (*training.loop.loops, training.loop):
            node = loop.node
            if not (isinstance(node, cst.For) and isinstance(node.target, cst.Name)):
                continue
            iterable = node.iter
            if isinstance(iterable, cst.Call) and call_name(iterable) == "range":
                bounds = positional_args(iterable)
                if bounds and is_literal(bounds[-1]):
                    key = "epochs" if "epoch" in node.target.value else "steps"
                    entries.setdefault(key, code_of(bounds[-1]).strip())
    return list(entries.items())


def constants(script: Script, block: Block, start: Stmt) -> list[tuple[Stmt, str]]:
    """Hyperparameter-named constants at module level or in the training function,
    bound before training starts."""
    found: dict[str, Stmt] = {}
    module_scope = script.module_scope
    for stmt in script.statements:
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
    if isinstance(target, cst.Name) and is_literal(value):
        return target.value
    return None


def is_literal(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.Integer | cst.Float | cst.SimpleString):
        return True
    if isinstance(value, cst.Name):
        return value.value in ("True", "False", "None")
    if isinstance(value, cst.UnaryOperation):
        return is_literal(value.expression)
    if isinstance(value, cst.BinaryOperation):
        return is_literal(value.left) and is_literal(value.right)
    if isinstance(value, cst.Tuple | cst.List):
        return all(is_literal(e.value) for e in value.elements)
    return False
