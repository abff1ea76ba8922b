"""Log training metrics once per optimizer update, at the script's interval or every N.

Where the script already prints its loss every few steps, the log goes beside that
print with the same values. Never logs a tensor: tensors get `.item()`, and values
of unknown type are left out.
"""

from __future__ import annotations

import re

import libcst as cst

from injector._matchers import dotted
from injector.points import Plan, insertable
from injector.points.loop_facts import (
    StepPlan,
    modulo_operand,
    plan_step,
    resolvable,
    update_anchor,
)
from injector.reports import (
    EVAL_PREFIX,
    is_loss_name,
    is_metric_name,
    is_report_call,
    metric_key,
    reported_expressions,
)
from injector.result import Point
from injector.script import Stmt
from injector.training import Backward, TrainingLoop
from injector.values import (
    Metric,
    ValueKind,
    as_number,
    code_of,
    number_code,
    root_of,
)

DESCRIPTION = "Log the training loss, learning rate and step once per optimizer update."


def plan_train_logs(plan: Plan) -> None:
    if plan.tracking.logs:
        plan.omit_existing(Point.TRAIN_LOG, "wandb.log", plan.tracking.logs)
        return
    if plan.tracking.syncs_tensorboard:
        plan.omit(
            Point.TRAIN_LOG, "metrics already reach W&B through TensorBoard syncing"
        )
        return
    for training in plan.loops:
        _plan_loop(plan, training)


def _plan_loop(plan: Plan, training: TrainingLoop) -> None:
    anchor = update_anchor(training)
    report = _report_site(plan, training)
    if report is not None and _log_at_report(plan, training, anchor, *report):
        return
    if not insertable(anchor):
        plan.omit(Point.TRAIN_LOG, "the optimizer step is on a one-line block")
        return
    metrics = _train_metrics(plan, training, anchor, None)
    if not metrics:
        plan.omit(Point.TRAIN_LOG, "no loss value that can be logged as a number")
        return
    _log_after_update(plan, training, anchor, metrics)


def _log_at_report(
    plan: Plan, training: TrainingLoop, anchor: Stmt, stmt: Stmt, call: cst.Call
) -> bool:
    """Log beside the script's own loss report, with its values and interval."""
    if not insertable(stmt):
        return False
    metrics = _train_metrics(plan, training, stmt, call)
    evaluation = [m for m in metrics if EVAL_PREFIX.match(m.key)]
    metrics = [m for m in metrics if m not in evaluation]
    if not metrics:
        return False
    counter = _interval_variable(stmt, training)
    step = plan_step(plan, training, anchor, plan.options.log_every, counter)
    step_code = _checked_step(step.step, stmt)
    why = "beside the script's own loss report on line {0}, at its interval"
    why += _step_words(step, step_code)
    code = plan.log_call(metrics, "train", step_code)
    plan.insert(stmt, "after", code, Point.TRAIN_LOG, why, (stmt.node,))
    if evaluation:
        renamed = [
            Metric(EVAL_PREFIX.sub("", m.key) or m.key, m.code) for m in evaluation
        ]
        code = plan.log_call(renamed, "eval", step_code)
        why = "the same report on line {0} shows evaluation metrics"
        plan.insert(stmt, "after", code, Point.EVAL_LOG, why, (stmt.node,))
    plan.loop_steps[id(training.loop)] = step_code
    return True


def _log_after_update(
    plan: Plan, training: TrainingLoop, anchor: Stmt, metrics: list[Metric]
) -> None:
    """Log after the optimizer update, every N updates."""
    step = plan_step(plan, training, anchor, plan.options.log_every)
    if step.step is not None and step.step == step.counter_name:
        step_code: str | None = step.step
    else:
        step_code = _checked_step(step.step, anchor)
    code = plan.log_call(metrics, "train", step_code, step.gate)
    if step.counter_name and step.counter_setup:
        if not insertable(step.counter_setup):
            plan.omit(Point.TRAIN_LOG, "the training loop is on a one-line block")
            return
        code = f"{step.counter_name} += 1\n" + code
        setup = f"{step.counter_name} = 0\n"
        why = "counts optimizer updates to space out the logs"
        plan.insert(step.counter_setup, "before", setup, Point.TRAIN_LOG, why)
    elif step.gate is None or not resolvable(step.gate, anchor):
        plan.omit(Point.TRAIN_LOG, "no counter or index to space out the logs")
        return
    every = plan.options.log_every
    why = f"after the optimizer update on line {{0}}, every {every} updates"
    why += _step_words(step, step_code)
    plan.insert(anchor, "after", code, Point.TRAIN_LOG, why, (anchor.node,))
    plan.loop_steps[id(training.loop)] = step_code


def _step_words(step: StepPlan, used: str | None) -> str:
    if used is None:
        return "; step: W&B's own counter"
    return f"; step: {step.why}" if step.why else ""


def _checked_step(step: str | None, at: Stmt) -> str | None:
    return step if step is not None and resolvable(step, at) else None


def _report_site(plan: Plan, training: TrainingLoop) -> tuple[Stmt, cst.Call] | None:
    """A print or logger call of the loss under `if step % k == 0:` in the loop."""
    for stmt in plan.script.inside(training.loop):
        if (
            stmt.loops[-1] is not training.loop
            or _interval_variable(stmt, training) is None
        ):
            continue
        for call in stmt.calls:
            if is_report_call(call) and _reports_loss(plan, training, stmt, call):
                return stmt, call
    return None


def _interval_variable(stmt: Stmt, training: TrainingLoop) -> str | None:
    """`n` for a statement under `if n % k == 0:` within the training loop."""
    for parent in reversed(stmt.parents):
        if parent is training.loop:
            return None
        if isinstance(parent.node, cst.If):
            counted = modulo_operand(parent.node.test)
            if counted is not None:
                return counted
    return None


def _reports_loss(
    plan: Plan, training: TrainingLoop, stmt: Stmt, call: cst.Call
) -> bool:
    """Whether the call shows a training loss that can be logged as a number."""
    losses = _loss_names(training)
    for reported in reported_expressions(call):
        key = metric_key(reported)
        if (
            not key
            or EVAL_PREFIX.match(key)
            or not (is_loss_name(key) or key in losses)
        ):
            continue
        if _number_code(plan, training, reported.expression, stmt) is not None:
            return True
    return False


def _loss_names(training: TrainingLoop) -> set[str]:
    """Names the script differentiates: a loss, whatever it is called."""
    return {name for b in training.backwards if (name := dotted(b.loss))}


def _train_metrics(
    plan: Plan, training: TrainingLoop, at: Stmt, report: cst.Call | None
) -> list[Metric]:
    metrics: list[Metric] = []
    if report is not None:
        metrics = _reported_metrics(plan, training, at, report)
    if not any(is_loss_name(m.key) for m in metrics):
        metrics = _loss_metrics(plan, training, at) + metrics
    if not any(m.key == "lr" for m in metrics):
        lr = _learning_rate(training, at)
        if lr is not None:
            metrics.append(lr)
    return _rename_single_loss(metrics)


def _reported_metrics(
    plan: Plan, training: TrainingLoop, at: Stmt, call: cst.Call
) -> list[Metric]:
    skip = _index_names(training)
    metrics: list[Metric] = []
    for reported in reported_expressions(call):
        key = metric_key(reported)
        expression = reported.expression
        if key in _loss_names(training) and len(training.backwards) == 1:
            key = "loss"
        if key is None or key in skip or not is_metric_name(key):
            continue
        if isinstance(expression, cst.Name) and expression.value in skip:
            continue
        if (
            isinstance(expression, cst.Attribute)
            and root_of(expression) in plan.kinds.settings
        ):
            continue  # a setting, already in the run's config
        value = _number_code(plan, training, expression, at)
        if (
            value is not None
            and resolvable(value, at)
            and key not in {m.key for m in metrics}
        ):
            metrics.append(Metric(key, value))
    return metrics


def _index_names(training: TrainingLoop) -> set[str]:
    names: set[str] = set()
    for loop in (*training.loop.loops, training.loop):
        node = loop.node
        if isinstance(node, cst.For):
            target: cst.BaseExpression = node.target
            if isinstance(target, cst.Tuple) and target.elements:
                target = target.elements[0].value
            if isinstance(target, cst.Name):
                names.add(target.value)
    return names


def _number_code(
    plan: Plan, training: TrainingLoop, expression: cst.BaseExpression, at: Stmt
) -> str | None:
    if isinstance(expression, cst.Name) and any(
        dotted(b.loss) == expression.value for b in training.backwards
    ):
        kind = _loss_kind(plan, training, expression.value, at)
        return as_number(expression.value, kind)
    return number_code(plan.kinds, expression, at)


def _loss_kind(plan: Plan, training: TrainingLoop, name: str, at: Stmt) -> ValueKind:
    """A loss passed to backward is a tensor, unless later rebound to a number."""
    backward = next(b for b in training.backwards if dotted(b.loss) == name)
    small = plan.kinds.last_assignment(name, at, after=backward.stmt)
    if small is None:
        return "tensor"
    value = getattr(small, "value", None)
    return plan.kinds.of(value, at) if value is not None else "unknown"


def _loss_metrics(plan: Plan, training: TrainingLoop, at: Stmt) -> list[Metric]:
    metrics: list[Metric] = []
    for backward in training.backwards:
        name = dotted(backward.loss)
        if name is None or any(m.key == name.rsplit(".", 1)[-1] for m in metrics):
            continue
        kind: ValueKind = "tensor"
        if "." not in name:
            kind = _loss_kind(plan, training, name, at)
        value = as_number(name, kind)
        if value is None or not resolvable(value, at):
            continue
        metrics.append(
            Metric(name.rsplit(".", 1)[-1], value + _unscale(plan, backward, name))
        )
    return metrics


def _unscale(plan: Plan, backward: Backward, name: str) -> str:
    """`* k` when the loss was divided by k for gradient accumulation."""
    for stmt in reversed(list(_before_in_loop(plan, backward.stmt))):
        node = stmt.node
        if not isinstance(node, cst.SimpleStatementLine):
            continue
        for small in node.body:
            divisor = _division_of(small, name)
            if divisor is not None:
                return f" * {divisor}"
    return ""


def _before_in_loop(plan: Plan, stmt: Stmt) -> list[Stmt]:
    loops = stmt.loops
    if not loops:
        return []
    inside = list(plan.script.inside(loops[-1]))
    return [s for s in inside if plan.kinds.position(s) < plan.kinds.position(stmt)]


_ACCUMULATION = re.compile(r"accum|grad_acc|micro|\bgas\b", re.IGNORECASE)


def _division_of(small: cst.BaseSmallStatement, name: str) -> str | None:
    if isinstance(small, cst.AugAssign) and isinstance(
        small.operator, cst.DivideAssign
    ):
        if dotted(small.target) == name:
            return code_of(small.value).strip()
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        value = small.value
        if (
            dotted(small.targets[0].target) == name
            and isinstance(value, cst.BinaryOperation)
            and isinstance(value.operator, cst.Divide)
        ):
            divisor = code_of(value.right).strip()
            # `loss = loss / k`, or `loss = criterion(...) / args.accum_steps`.
            if dotted(value.left) == name or _ACCUMULATION.search(divisor):
                return divisor
    return None


def _learning_rate(training: TrainingLoop, at: Stmt) -> Metric | None:
    optimizers = training.optimizers()
    if len(optimizers) != 1:
        return None
    code = f'{optimizers[0]}.param_groups[0]["lr"]'
    if "engine" in optimizers[0].lower() or not resolvable(code, at):
        return None
    return Metric("lr", code)


def _rename_single_loss(metrics: list[Metric]) -> list[Metric]:
    losses = [m for m in metrics if is_loss_name(m.key)]
    if len(losses) != 1 or losses[0].key == "loss":
        return metrics
    return [Metric("loss", m.code) if m is losses[0] else m for m in metrics]


__all__ = ["DESCRIPTION", "plan_train_logs"]
