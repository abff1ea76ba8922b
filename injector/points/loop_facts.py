"""What the log points need to know of a training loop: counters, epochs, gates."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import libcst as cst

from injector._matchers import (
    call_name,
    dotted,
    expression_of,
    method_name,
    positional_args,
    read_names,
    small_statements,
)
from injector.points import Plan
from injector.script import Block, Stmt
from injector.training import TrainingLoop

_COUNTER_NAME = re.compile(
    r"step|iter|^it$|^itr$|update|global|^n_?iter|^i_?iter", re.I
)
_EPOCH_NAME = re.compile(r"^(epoch|ep|cur_epoch|epoch_idx|current_epoch|e)$", re.I)
_UPDATE_METHODS = ("zero_grad", "step", "update", "clear_grad")
_WRAPPERS = re.compile(r"tqdm|track|progress|enumerate", re.I)


@dataclass(frozen=True)
class Index:
    """A loop's per-iteration index and, for `enumerate(loader)`, the loader."""

    name: str
    loader: str | None
    loop: Stmt


@dataclass(frozen=True)
class StepPlan:
    """How a log call learns its step, and the condition that spaces the calls."""

    step: str | None
    gate: str | None
    counter_setup: Stmt | None = None
    counter_name: str | None = None
    why: str = ""


def loop_index(loop: Stmt) -> Index | None:
    node = loop.node
    if not isinstance(node, cst.For):
        return None
    target, iterable = node.target, node.iter
    if isinstance(target, cst.Name) and isinstance(iterable, cst.Call):
        # `range(start, stop, stride)` yields offsets, not a count of steps.
        counting = call_name(iterable) in (
            "range",
            "itertools.count",
            "count",
            "trange",
        )
        if counting and len(iterable.args) < 3:
            return Index(target.value, None, loop)
    if not (isinstance(iterable, cst.Call) and call_name(iterable) == "enumerate"):
        return None
    if not isinstance(target, cst.Tuple) or not target.elements:
        return None
    first = target.elements[0].value
    if not isinstance(first, cst.Name):
        return None
    args = positional_args(iterable)
    loader = args[0] if args else None
    while isinstance(loader, cst.Call) and _WRAPPERS.search(call_name(loader) or ""):
        inner = positional_args(loader)
        loader = inner[0] if inner else None
    return Index(first.value, dotted(loader) if loader is not None else None, loop)


def modulo_operand(test: cst.BaseExpression) -> str | None:
    """`n` in a condition like `n % k == 0`, also inside `and`/`or`."""
    if isinstance(test, cst.BooleanOperation):
        return modulo_operand(test.left) or modulo_operand(test.right)
    if isinstance(test, cst.Comparison) and isinstance(test.left, cst.BinaryOperation):
        if isinstance(test.left.operator, cst.Modulo):
            return dotted(test.left.left) or ""
    return None


def epoch_name(training: TrainingLoop) -> str | None:
    """A name holding the current epoch: an outer loop over `range(...)`, or a
    parameter named like an epoch."""
    for outer in reversed(training.loop.loops):
        node = outer.node
        if isinstance(node, cst.For) and isinstance(node.target, cst.Name):
            ranged = isinstance(node.iter, cst.Call) and call_name(node.iter) == "range"
            if ranged or "epoch" in node.target.value:
                return node.target.value
    for param in training.scope.params:
        if _EPOCH_NAME.match(param) or param.endswith("epoch"):
            return param
    return None


def counters(plan: Plan, training: TrainingLoop) -> list[tuple[str, Stmt]]:
    """`x += n` counters named like steps, in the loop first, then in outer loops."""
    inner: list[tuple[str, Stmt]] = []
    outer: list[tuple[str, Stmt]] = []
    outermost = training.loop.loops[0] if training.loop.loops else training.loop
    for stmt in plan.script.inside(outermost):
        node = stmt.node
        if not isinstance(node, cst.SimpleStatementLine):
            continue
        for small in node.body:
            if isinstance(small, cst.AugAssign) and isinstance(
                small.operator, cst.AddAssign
            ):
                name = dotted(small.target)
                if name and _COUNTER_NAME.search(name.rsplit(".", 1)[-1]):
                    found = inner if stmt.within(training.loop) else outer
                    found.append((name, stmt))
    return inner + outer


def called_per_epoch(plan: Plan, training: TrainingLoop) -> bool:
    """Whether the loop's function runs once per epoch, so its local counters reset."""
    scope = training.scope
    if scope.kind != "function":
        return False
    if any(_EPOCH_NAME.match(p) or p.endswith("epoch") for p in scope.params):
        return True
    for stmt in plan.script.statements:
        if stmt.loops and any(_calls_function(c, scope.name) for c in stmt.calls):
            return True
    return False


def _calls_function(call: cst.Call, name: str) -> bool:
    """A call of the module's function `name`, or of a method on `self`."""
    func = call.func
    if isinstance(func, cst.Name):
        return func.value == name
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value == name
        and isinstance(func.value, cst.Name)
        and func.value.value == "self"
    )


def is_update_call(stmt: Stmt) -> bool:
    expression = expression_of(stmt.node)
    return (
        isinstance(expression, cst.Call) and method_name(expression) in _UPDATE_METHODS
    )


def update_anchor(training: TrainingLoop) -> Stmt:
    """The statement after which one optimizer update is complete.

    Gap: under `with accelerator.accumulate(model):` the script calls
    `optimizer.step()` on every micro-batch and Accelerate skips all but the
    last; this does not read `sync_gradients` yet, so the log may fire on
    several micro-batches of one update.
    """
    sites = [s.stmt for s in training.steps] or [b.stmt for b in training.backwards]
    block = _body_block(training.loop, sites[0])
    while True:
        tops = [s.top_in(block) for s in sites]
        first = tops[0]
        if first is None or any(t is None for t in tops):
            break
        inner = (
            _shared_child_block(first, sites) if all(t is first for t in tops) else None
        )
        if inner is None:
            break
        block = inner
    anchor = max((t for t in tops if t is not None), key=lambda t: t.index)
    for sibling in anchor.next_siblings():
        if not is_update_call(sibling):
            break
        anchor = sibling
    return anchor


def _body_block(loop: Stmt, inside: Stmt) -> Block:
    chain = [*inside.parents, inside]
    return chain[chain.index(loop) + 1].block


def _shared_child_block(top: Stmt, sites: list[Stmt]) -> Block | None:
    """The one block of compound `top` that holds every site, if there is one."""
    blocks: set[int] = set()
    found: Block | None = None
    for site in sites:
        if site is top:
            return None
        chain = [*site.parents, site]
        child = chain[chain.index(top) + 1]
        blocks.add(id(child.block))
        found = child.block
    return found if len(blocks) == 1 else None


def accumulation_updates(anchor: Stmt, training: TrainingLoop) -> str | None:
    """For an update inside `if (i + 1) % k == 0:`, the count of updates so far."""
    for parent in reversed(anchor.parents):
        if parent is training.loop:
            return None
        node = parent.node
        if not isinstance(node, cst.If):
            continue
        test = node.test
        if isinstance(test, cst.BooleanOperation):
            test = test.left
        if not (
            isinstance(test, cst.Comparison)
            and isinstance(test.left, cst.BinaryOperation)
            and isinstance(test.left.operator, cst.Modulo)
        ):
            continue
        counted = cst.Module(body=[]).code_for_node(test.left.left).strip()
        every = cst.Module(body=[]).code_for_node(test.left.right).strip()
        if counted.startswith("(") and counted.endswith(")"):
            counted = counted[1:-1]
        return f"({counted}) // {every}"
    return None


def inside_condition(anchor: Stmt, training: TrainingLoop) -> bool:
    """Whether the update sits under an `if` within the loop body."""
    for parent in reversed(anchor.parents):
        if parent is training.loop:
            return False
        if isinstance(parent.node, cst.If):
            return True
    return False


def plan_step(
    plan: Plan,
    training: TrainingLoop,
    anchor: Stmt,
    every: int,
    reported_counter: str | None = None,
) -> StepPlan:
    """Choose the step value and the interval condition for a log after `anchor`.

    `reported_counter` is the variable the script's own report interval is
    computed on (`n` in `if n % k == 0:`), used when nothing better counts steps.
    """
    per_epoch = called_per_epoch(plan, training)
    epoch = epoch_name(training)
    own = [c for c in counters(plan, training) if not _in_nested_loop(c[1], training)]
    index = loop_index(training.loop)
    step: str | None = None
    why = ""
    if own and (not per_epoch or _survives_calls(plan, training, own[0][0])):
        step, why = own[0][0], f"the script's own counter `{own[0][0]}`"
    elif reported_counter and (index is None or reported_counter != index.name):
        step, why = reported_counter, f"the script's own counter `{reported_counter}`"
    elif index is not None and not training.loop.loops and not per_epoch:
        step, why = index.name, f"the loop index `{index.name}`"
    elif index is not None and epoch and index.loader:
        step = f"{epoch} * len({index.loader}) + {index.name}"
        why = f"derived from `{epoch}` and the batch index `{index.name}`"
    elif own:
        why = "W&B's own step, since the script's counters restart every epoch"
    gate_base = _gate_base(anchor, training, own, index)
    if gate_base is not None:
        return StepPlan(step, f"{gate_base} % {every} == 0", why=why)
    # Nothing in the script counts updates: count them with a variable of our own,
    # set before the outermost loop of this function.
    counter = training.scope.unused_name("wandb_step")
    setup = training.loop.loops[0] if training.loop.loops else training.loop
    if step is None and not per_epoch:
        step, why = counter, f"a new update counter `{counter}`"
    return StepPlan(step, f"{counter} % {every} == 0", setup, counter, why)


def _gate_base(
    anchor: Stmt,
    training: TrainingLoop,
    own: list[tuple[str, Stmt]],
    index: Index | None,
) -> str | None:
    in_update_block = [c for c, stmt in own if stmt.block is anchor.block]
    if in_update_block:
        return in_update_block[0]
    if inside_condition(anchor, training):
        return accumulation_updates(anchor, training)
    if own:
        return own[0][0]
    if index is not None:
        return index.name
    return None


def _in_nested_loop(stmt: Stmt, training: TrainingLoop) -> bool:
    """Inside a loop that runs within the training loop (a micro-step loop)."""
    loops = stmt.loops
    return training.loop in loops and loops[-1] is not training.loop


def _survives_calls(plan: Plan, training: TrainingLoop, counter: str) -> bool:
    """An attribute, or a parameter the function returns: it counts across calls."""
    if "." in counter:
        return True
    scope = training.scope
    if counter not in scope.params:
        return False
    for stmt in plan.script.in_scope(scope):
        for small in small_statements(stmt.node):
            if isinstance(small, cst.Return) and small.value is not None:
                if counter in read_names(small.value):
                    return True
    return False


def resolvable(code: str, at: Stmt) -> bool:
    """Whether every name that `code` reads is bound where `at` runs."""
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        return False
    bound = {
        name.id
        for comprehension in ast.walk(tree)
        if isinstance(comprehension, ast.comprehension)
        for name in ast.walk(comprehension.target)
        if isinstance(name, ast.Name)
    }
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - bound
    return all(at.scope.resolves(n) or n == "wandb" for n in read)
