"""Where a script trains: backward passes, optimizer steps, and their loops."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import libcst as cst

from injector._matchers import (
    call_name,
    dotted,
    method_name,
    positional_args,
    receiver,
    root_name,
)
from injector.jax_steps import Traced
from injector.script import Scope, Script, Stmt

_OPTIMIZER_CLASSES = re.compile(
    r"(?:^|\.)(SGD|Adam|AdamW|Adamax|NAdam|RAdam|RMSprop|Adagrad|Adadelta|LBFGS|"
    r"SparseAdam|Lion|Adafactor|Lamb|LAMB|FusedAdam|FusedLAMB|Adan|Muon|Sophia\w*|"
    r"create_optimizer\w*|build_optimizer\w*|get_optimizer\w*|configure_optimizers)$"
)
_OPTIMIZER_WORDS = re.compile(r"opt|engine", re.IGNORECASE)
_NOT_OPTIMIZER_WORDS = re.compile(r"sched|scaler|env|ema|warmup", re.IGNORECASE)
_BACKWARD_OWNERS = re.compile(r"accelerator|fabric|engine|scaler|autograd|self|model")


@dataclass(eq=False)
class Backward:
    """A backward pass: the statement and the loss expression it differentiates."""

    stmt: Stmt
    loss: cst.BaseExpression
    steps_too: bool = False


@dataclass(eq=False)
class OptimizerStep:
    """An optimizer update, and the optimizer it updates."""

    stmt: Stmt
    optimizer: cst.BaseExpression


@dataclass(eq=False)
class TrainingLoop:
    """The loop that runs once per training step (or micro-step group)."""

    loop: Stmt
    backwards: list[Backward] = field(default_factory=list)
    steps: list[OptimizerStep] = field(default_factory=list)

    @property
    def scope(self) -> Scope:
        return self.loop.scope

    def optimizers(self) -> list[str]:
        names: list[str] = []
        for step in self.steps:
            name = dotted(step.optimizer)
            if name and name not in names:
                names.append(name)
        return names


def optimizer_names(script: Script) -> set[str]:
    """Names bound to something built by an optimizer constructor."""
    names: set[str] = set()
    for stmt in script.statements:
        for small in _small(stmt):
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                called = call_name(small.value) or ""
                if _OPTIMIZER_CLASSES.search(called):
                    for target in small.targets:
                        name = dotted(target.target)
                        if name:
                            names.add(name)
    return names


def _small(stmt: Stmt) -> Iterable[cst.BaseSmallStatement]:
    return stmt.node.body if isinstance(stmt.node, cst.SimpleStatementLine) else ()


def _unwrap_loss(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`loss` from `scaler.scale(loss)` or `(loss / accum)`."""
    while True:
        if isinstance(expr, cst.Call) and method_name(expr) == "scale":
            args = positional_args(expr)
            if not args:
                return expr
            expr = args[0]
        elif isinstance(expr, cst.BinaryOperation):
            expr = expr.left
        else:
            return expr


def find_backward(stmt: Stmt, call: cst.Call) -> Backward | None:
    if method_name(call) not in ("backward", "manual_backward"):
        return None
    args = positional_args(call)
    owner = receiver(call)
    owner_name = dotted(owner) or ""
    if args and (owner is None or _BACKWARD_OWNERS.search(owner_name)):
        return Backward(stmt, _unwrap_loss(args[0]))
    if owner is not None:
        return Backward(stmt, _unwrap_loss(owner))
    return None


def is_optimizer(expr: cst.BaseExpression, known: set[str]) -> bool:
    name = dotted(expr)
    if name is None:
        return False
    if name in known:
        return True
    last = name.rsplit(".", 1)[-1]
    return bool(_OPTIMIZER_WORDS.search(last)) and not _NOT_OPTIMIZER_WORDS.search(last)


def find_step(stmt: Stmt, call: cst.Call, known: set[str]) -> OptimizerStep | None:
    if (call_name(call) or "").endswith("xm.optimizer_step"):
        # torch_xla reduces the gradients across cores and steps the optimizer.
        args = positional_args(call)
        return OptimizerStep(stmt, args[0]) if args else None
    if method_name(call) != "step":
        return None
    owner = receiver(call)
    if owner is None:
        return None
    args = positional_args(call)
    if (dotted(owner) or "").endswith("scaler") and args:
        return OptimizerStep(stmt, args[0]) if is_optimizer(args[0], known) else None
    if is_optimizer(owner, known):
        return OptimizerStep(stmt, owner)
    return None


def _loss_scaler_call(stmt: Stmt, call: cst.Call, known: set[str]) -> Backward | None:
    """A helper that runs backward and step together: `loss_scaler(loss, optimizer)`."""
    args = positional_args(call)
    if len(args) < 2 or "scaler" not in (method_name(call) or "").lower():
        return None
    first = root_name(args[0]) or ""
    if "loss" in first.lower() and any(is_optimizer(a, known) for a in args[1:]):
        return Backward(stmt, args[0], steps_too=True)
    return None


def _compiled_update(
    stmt: Stmt, call: cst.Call, updates: frozenset[str]
) -> Backward | None:
    """`state, loss = train_step(state, batch)` with `train_step` a compiled update:
    the loss is the result named like one (none: the call, which logs nothing)."""
    if not (isinstance(call.func, cst.Name) and call.func.value in updates):
        return None
    loss: cst.BaseExpression = call
    for small in _small(stmt):
        if isinstance(small, cst.Assign) and small.value is call:
            target = small.targets[0].target
            results = (
                [e.value for e in target.elements]
                if isinstance(target, cst.Tuple | cst.List)
                else [target]
            )
            named = [r for r in results if "loss" in (dotted(r) or "").lower()]
            if named:
                loss = named[0]
    return Backward(stmt, loss, steps_too=True)


def find_training_loops(
    script: Script, traced: Traced | None = None
) -> list[TrainingLoop]:
    """Group backward passes and optimizer steps by the loop that runs them per step.

    Under JAX, a call of a compiled update step is the backward pass and the step
    together; loops inside traced functions are never training loops of their own.
    """
    traced = traced or Traced()
    known = optimizer_names(script)
    backwards: list[Backward] = []
    steps: list[OptimizerStep] = []
    for stmt in script.statements:
        if traced.functions and traced.contains(stmt.scope):
            continue
        for call in stmt.calls:
            backward = (
                find_backward(stmt, call)
                or _loss_scaler_call(stmt, call, known)
                or _compiled_update(stmt, call, traced.updates)
            )
            if backward is not None:
                backwards.append(backward)
            step = find_step(stmt, call, known)
            if step is not None:
                steps.append(step)
    loops: dict[int, TrainingLoop] = {}
    for step in steps:
        loop = _loop_with_backward(step.stmt, backwards)
        if loop is not None:
            loops.setdefault(id(loop.node), TrainingLoop(loop)).steps.append(step)
    for backward in backwards:
        if backward.steps_too or not any(_shares_loop(backward, s) for s in steps):
            loop_stmt = backward.stmt.loops[-1] if backward.stmt.loops else None
            if loop_stmt is not None:
                loops.setdefault(id(loop_stmt.node), TrainingLoop(loop_stmt))
    for training in loops.values():
        training.backwards = [b for b in backwards if b.stmt.within(training.loop)]
    return sorted(loops.values(), key=lambda t: t.loop.position)


def _loop_with_backward(stmt: Stmt, backwards: list[Backward]) -> Stmt | None:
    """The innermost loop around `stmt` that also runs a backward pass."""
    for loop in reversed(stmt.loops):
        if any(b.stmt.within(loop) for b in backwards):
            return loop
    return None


def _shares_loop(backward: Backward, step: OptimizerStep) -> bool:
    return any(loop in step.stmt.loops for loop in backward.stmt.loops)


def trainer_functions(
    script: Script, loops: list[TrainingLoop], imported: set[str] | None = None
) -> set[str]:
    """Names of functions that train, directly or through a call to another trainer;
    `imported` names trainers that live in other modules."""
    trainers = {t.scope.name for t in loops if t.scope.kind == "function"}
    trainers |= imported or set()
    changed = True
    while changed:
        changed = False
        for scope in script.scopes:
            if scope.kind != "function" or scope.name in trainers:
                continue
            if any(calls_trainer(s, trainers) for s in script.in_scope(scope)):
                trainers.add(scope.name)
                changed = True
    return trainers


def calls_trainer(stmt: Stmt, trainers: set[str]) -> bool:
    """Whether the statement calls a trainer: a function, or a method on an object.

    Method calls count only for names of the script's own training methods, and
    never `.train()`, which in PyTorch only switches a module to training mode.
    """
    for call in stmt.calls:
        func = call.func
        if isinstance(func, cst.Name) and func.value in trainers:
            return True
        if isinstance(func, cst.Attribute) and func.attr.value in trainers:
            if root_name(func) == "self" or (
                func.attr.value != "train" and not call.args
            ):
                return True
    return False
