"""Log evaluation metrics under eval/ once they are computed, with the epoch when known.

Three shapes: a call to the script's own evaluation function whose result holds the
metrics (`acc = validate(...)`), an evaluation function that only prints them, and
evaluation written inline in the training code, reported by a print after
`model.eval()` or a `torch.no_grad()` block. Values of unknown type that come from
a metric function go through `float()`; containers of unknown shape are left out.
"""

from __future__ import annotations

import json
import re

import libcst as cst

from injector._matchers import (
    assigned_names,
    call_name,
    dotted,
    method_name,
    small_statements,
)
from injector.points import Plan, insertable
from injector.points.loop_facts import resolvable
from injector.reports import (
    EVAL_PREFIX,
    EVAL_WORDS,
    is_metric_name,
    is_report_call,
    metric_key,
    reported_expressions,
)
from injector.result import Point
from injector.script import Scope, Stmt
from injector.values import Metric, number_code

DESCRIPTION = "Log evaluation metrics under eval/ once they are computed."
_EVAL_FUNCTION = re.compile(
    r"^_?(eval\w*|evaluate\w*|valid\w*|val|val_\w+|test|test_\w+|run_eval\w*|"
    r"run_valid\w*|estimate_loss|compute_metrics)$|_eval$|_evaluate$|_validate$"
)
_EPOCHS = ("epoch", "ep", "cur_epoch", "epoch_idx", "current_epoch")
_EVAL_MODE_CALLS = re.compile(r"(^|\.)(eval|no_grad|inference_mode)$")


def plan_eval_logs(plan: Plan) -> None:
    if plan.tracking.logs:
        return
    evaluators = eval_functions(plan)
    logged: set[str] = set()
    for stmt in plan.script.statements:
        if _in_training_scope(plan, stmt.scope):
            _plan_result_site(plan, stmt, evaluators, logged)
    for name in sorted(evaluators - logged):
        for scope in plan.script.functions[name]:
            _plan_printing_function(plan, scope)
    _plan_inline(plan)
    if not plan.has(Point.EVAL_LOG):
        plan.omit(Point.EVAL_LOG, "no evaluation metrics found in this file")


def eval_functions(plan: Plan) -> set[str]:
    """The script's functions that evaluate: by name, or by entering eval mode."""
    found: set[str] = set()
    for name, scopes in plan.script.functions.items():
        if name in plan.trainers:
            continue
        if _EVAL_FUNCTION.match(name):
            found.add(name)
            continue
        for scope in scopes:
            if any(_enters_eval(s) for s in plan.script.in_scope(scope)):
                found.add(name)
    return found


def _enters_eval(stmt: Stmt) -> bool:
    return any(
        _EVAL_MODE_CALLS.search(call_name(c) or "") and not c.args for c in stmt.calls
    )


def _in_training_scope(plan: Plan, scope: Scope) -> bool:
    return scope.kind == "module" or scope.name in plan.trainers


def _plan_result_site(
    plan: Plan, stmt: Stmt, evaluators: set[str], logged: set[str]
) -> None:
    body = small_statements(stmt.node)
    if len(body) != 1 or not isinstance(body[0], cst.Assign):
        return
    assign = body[0]
    called = method_name(assign.value) if isinstance(assign.value, cst.Call) else None
    if called not in evaluators or len(assign.targets) != 1 or not insertable(stmt):
        return
    names = assigned_names(assign.targets[0].target)
    metrics: list[Metric] = []
    for name, returned in zip(names, _returned(plan, called, len(names)), strict=True):
        metrics.extend(_result_metrics(plan, name, returned, stmt))
    if not metrics:
        return
    why = f"after `{called}(...)` returns its metrics on line {{0}}"
    code = plan.log_call(metrics + _epoch(stmt), "eval", _training_step(plan, stmt))
    plan.insert(stmt, "after", code, Point.EVAL_LOG, why, (stmt.node,))
    logged.add(called)


Returned = tuple[Stmt, cst.BaseExpression] | None


def _returned(plan: Plan, function: str, count: int, depth: int = 0) -> list[Returned]:
    """Per returned value, the return statement and its expression, where clear."""
    scope = plan.script.functions[function][-1]
    returns = [
        (stmt, small.value)
        for stmt in plan.script.in_scope(scope)
        for small in small_statements(stmt.node)
        if isinstance(small, cst.Return) and small.value is not None
    ]
    if not returns:
        return [None] * count
    stmt, value = returns[-1]
    if isinstance(value, cst.Tuple) and len(value.elements) == count:
        return [(stmt, e.value) for e in value.elements]
    if count != 1:
        return [None] * count
    inner = method_name(value) if isinstance(value, cst.Call) else None
    if inner in plan.script.functions and depth < 3 and isinstance(value, cst.Call):
        if isinstance(value.func, cst.Name):
            return _returned(plan, inner, 1, depth + 1)
    return [(stmt, value)]


def _result_metrics(
    plan: Plan, name: str, returned: Returned, at: Stmt
) -> list[Metric]:
    if returned is None:
        return []
    where, value = returned
    if isinstance(value, cst.Name):
        binding = plan.kinds.last_assignment(value.value, where)
        bound = getattr(binding, "value", None)
        if _is_container(bound):
            return _filled_dict(plan, name, value.value, bound, where)
    if isinstance(value, cst.Dict):
        return _dict_metrics(plan, name, value, where, at)
    if _is_container(value):
        return []
    kind = plan.kinds.of(value, where)
    if kind == "unknown" and not looks_scalar(name):
        return []
    code = {"tensor": f"{name}.item()", "number": name}.get(kind, f"float({name})")
    return [Metric(_short(name), code)] if resolvable(code, at) else []


_COLLECTION_NAME = re.compile(
    r"(s|_list|_dict|list|dict)$|^(metrics|results|stats|outputs|logs|info|summary)$",
    re.IGNORECASE,
)


def looks_scalar(name: str) -> bool:
    """A metric name that reads as one number: `acc1`, `val_auc`; not `scores`."""
    return is_metric_name(name) and not _COLLECTION_NAME.search(name)


def _is_container(value: object) -> bool:
    if isinstance(value, cst.Dict | cst.List | cst.Tuple | cst.Set | cst.BaseComp):
        return True
    return isinstance(value, cst.Call) and call_name(value) in (
        "dict",
        "list",
        "defaultdict",
        "collections.defaultdict",
        "OrderedDict",
    )


def _filled_dict(
    plan: Plan, name: str, local: str, bound: object, where: Stmt
) -> list[Metric]:
    """A dict the evaluation function fills as `out[key] = value`: log every entry."""
    is_dict = isinstance(bound, cst.Dict | cst.DictComp) or (
        isinstance(bound, cst.Call) and "dict" in (call_name(bound) or "").lower()
    )
    if not is_dict:
        return []
    if isinstance(bound, cst.Dict) and bound.elements:
        return _dict_metrics(plan, name, bound, where, where)
    comprehension = (
        f'{{f"eval/{{key}}": float(value) for key, value in {name}.items()}}'
    )
    return [Metric("**", comprehension)]


def _dict_metrics(
    plan: Plan, name: str, value: cst.Dict, where: Stmt, at: Stmt
) -> list[Metric]:
    metrics: list[Metric] = []
    for element in value.elements:
        if not isinstance(element, cst.DictElement):
            return []
        key = element.key
        text = key.evaluated_value if isinstance(key, cst.SimpleString) else None
        if not isinstance(text, str):
            return []
        kind = plan.kinds.of(element.value, where)
        entry = f"{name}[{json.dumps(text)}]"
        code = {"tensor": f"{entry}.item()", "number": entry}.get(
            kind, f"float({entry})"
        )
        metrics.append(Metric(_short(text), code))
    return metrics


def _training_step(plan: Plan, stmt: Stmt) -> str | None:
    """Inside a training loop, the step its training log uses, so the two line up."""
    for loop in reversed(stmt.loops):
        step = plan.loop_steps.get(id(loop))
        if step is not None and resolvable(step, stmt):
            return step
    return None


def _short(key: str) -> str:
    return EVAL_WORDS.sub("", key) or key


def epoch_metric(stmt: Stmt) -> list[Metric]:
    """The current epoch: a parameter named so, or the target of a loop around `stmt`
    over `range(...)` (the epoch loop, whatever its variable is called)."""
    for name in _EPOCHS:
        if name in stmt.scope.params:
            return [Metric("epoch", name)]
    for loop in reversed(stmt.loops):
        node = loop.node
        if isinstance(node, cst.For) and isinstance(node.target, cst.Name):
            if isinstance(node.iter, cst.Call) and call_name(node.iter) == "range":
                return [Metric("epoch", node.target.value)]
    return []


_epoch = epoch_metric


def _is_training_loss(plan: Plan, expression: cst.BaseExpression) -> bool:
    """The loss the training loop differentiates: a training metric, not evaluation."""
    name = dotted(expression) if isinstance(expression, cst.Name) else None
    if isinstance(expression, cst.Call) and method_name(expression) == "item":
        inner = expression.func
        name = dotted(inner.value) if isinstance(inner, cst.Attribute) else None
    losses = {dotted(b.loss) for t in plan.loops for b in t.backwards}
    return name is not None and name in losses


def _plan_printing_function(plan: Plan, scope: Scope) -> None:
    """An evaluation function that prints its metrics: log right after the print."""
    for stmt in plan.script.in_scope(scope):
        if stmt.loops or not insertable(stmt):
            continue
        for call in stmt.calls:
            metrics = printed_metrics(plan, stmt, call, eval_only=False)
            if metrics:
                why = f"after `{scope.name}()` reports its metrics on line {{0}}"
                code = plan.log_call(
                    metrics + _epoch(stmt), "eval", _training_step(plan, stmt)
                )
                plan.insert(stmt, "after", code, Point.EVAL_LOG, why, (stmt.node,))
                return


def _plan_inline(plan: Plan) -> None:
    """Metrics printed in the training code itself after switching to evaluation."""
    step_loops = {id(t.loop) for t in plan.loops}
    regions = _EvalRegions(plan)
    for stmt in plan.script.statements:
        if not any(is_report_call(c) for c in stmt.calls):
            continue
        if not _in_training_scope(plan, stmt.scope) or not insertable(stmt):
            continue
        in_step_loop = any(id(loop) in step_loops for loop in stmt.loops[-1:])
        if in_step_loop and not _under_interval(stmt):
            continue
        if not regions.after_evaluation(stmt):
            continue
        for call in stmt.calls:
            # Inside the step loop, no_grad blocks also compute targets and EMA
            # updates: only values named as validation count there.
            metrics = printed_metrics(plan, stmt, call, eval_only=in_step_loop)
            if metrics:
                why = "after the evaluation metrics are reported on line {0}"
                code = plan.log_call(
                    metrics + _epoch(stmt), "eval", _training_step(plan, stmt)
                )
                plan.insert(stmt, "after", code, Point.EVAL_LOG, why, (stmt.node,))
                break


def _under_interval(stmt: Stmt) -> bool:
    """Inside an `if step % k == 0:` block: an evaluation every k steps."""
    return any(
        isinstance(p.node, cst.If)
        and isinstance(p.node.test, cst.Comparison)
        and "%" in cst.Module(body=[]).code_for_node(p.node.test)
        for p in stmt.parents
    )


class _EvalRegions:
    """Answers "was eval mode entered since the last training loop?" per statement.

    Built once per file: which statements enter eval mode (as prefix sums, so a
    statement's whole subtree is checked at once), and per block, lazily, the
    state before each of its statements.
    """

    def __init__(self, plan: Plan) -> None:
        statements = plan.script.statements
        self._sums = [0]
        for stmt in statements:
            self._sums.append(self._sums[-1] + _enters_eval(stmt))
        self._step_loops = {id(t.loop) for t in plan.loops}
        self._before: dict[int, list[bool | None]] = {}

    def _in_subtree(self, stmt: Stmt) -> bool:
        # A definition's body runs later, when called, not where it stands.
        if isinstance(stmt.node, cst.FunctionDef | cst.ClassDef):
            return False
        return self._sums[stmt.end] > self._sums[stmt.position]

    def _states(self, stmt: Stmt) -> list[bool | None]:
        """Per statement of `stmt`'s block: True once eval mode was entered before
        it, False once a training loop ran since, None when neither happened."""
        states = self._before.get(id(stmt.block))
        if states is None:
            states, state = [], None
            for sibling in stmt.block.statements:
                states.append(state)
                if id(sibling) in self._step_loops:
                    state = False
                elif self._in_subtree(sibling):
                    state = True
            self._before[id(stmt.block)] = states
        return states

    def after_evaluation(self, stmt: Stmt) -> bool:
        current = stmt
        while True:
            state = self._states(current)[current.index]
            if state is not None:
                return state
            parent = current.parents[-1] if current.parents else None
            if parent is None or isinstance(parent.node, cst.For | cst.While):
                return False
            current = parent


def printed_metrics(
    plan: Plan, stmt: Stmt, call: cst.Call, eval_only: bool
) -> list[Metric]:
    """Numeric metrics a print or logger call reports, keyed without eval prefixes."""
    if not is_report_call(call):
        return []
    metrics: list[Metric] = []
    for reported in reported_expressions(call):
        key = metric_key(reported)
        if key is None or not is_metric_name(key) or key in _EPOCHS:
            continue
        if eval_only and not EVAL_PREFIX.match(key):
            continue
        if isinstance(reported.expression, cst.Name | cst.Call) and _is_training_loss(
            plan, reported.expression
        ):
            continue
        code = number_code(plan.kinds, reported.expression, stmt, scalar_fallback=True)
        short = _short(key)
        if (
            code is not None
            and resolvable(code, stmt)
            and short not in {m.key for m in metrics}
        ):
            metrics.append(Metric(short, code))
    return metrics


__all__ = ["DESCRIPTION", "epoch_metric", "plan_eval_logs", "printed_metrics"]
