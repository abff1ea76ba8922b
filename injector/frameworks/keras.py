"""Keras `model.fit`: a run with the config, and a metrics callback in `callbacks`.

With TensorFlow that is W&B's WandbMetricsLogger. Keras 3 on another backend gets
a LambdaCallback that logs the same `epoch/` keys: wandb's callback imports
TensorFlow, which such a script need not have. The callback goes last, after any
the script has (Horovod's metric averaging among them), so it sees the averaged
metrics. Under Horovod the run is created disabled on every rank but 0, which
makes the callback a no-op there.
"""

from __future__ import annotations

import libcst as cst

from injector._matchers import keyword_arg, method_name, small_statements
from injector.collected import constants
from injector.frameworks import config_before, with_keyword
from injector.points import Plan, insertable
from injector.points.finish_run import plan_finish
from injector.points.init_code import place_init
from injector.result import Point
from injector.script import Stmt
from injector.values import code_of

DESCRIPTION = "Start a run before Keras trains, and log through its callback."
_CALLBACK = "WandbMetricsLogger()"
_LAMBDA_CALLBACK = """keras.callbacks.LambdaCallback(
    on_epoch_end=lambda epoch, logs: wandb.log(
        {"epoch/epoch": epoch, **{f"epoch/{key}": value for key, value in logs.items()}}
    )
)"""


def plan_keras(plan: Plan) -> bool:
    """True when the script trains a Keras model with `fit`."""
    if not _imports_keras(plan):
        return False
    fits = [
        (stmt, call)
        for stmt in plan.script.statements
        for call in stmt.calls
        if method_name(call) == "fit" and call.args
    ]
    if not fits or not all(insertable(s) for s, _ in fits):
        return False
    plan.framework = "keras"
    first = fits[0][0]
    config = config_before(plan, first) or _constants(plan, first)
    config = config or _fit_settings(fits[0][1])
    plan.config_kind = plan.config_kind or "collected"
    plan.config_expression = plan.config_expression or config
    why = "Keras trains in `fit` on line {0}; the run starts just before it"
    if not place_init(
        plan, first.block, first.index - 1, first, config, why, (first.node,)
    ):
        return True
    tensorflow = _imports(plan, "tensorflow")
    callback = _CALLBACK
    if not tensorflow:
        callback = first.scope.unused_name("wandb_metrics")
        code = f"{callback} = {_LAMBDA_CALLBACK}\n"
        why = "logs each epoch's Keras metrics to the run, for `fit` on line {0}"
        plan.insert(first, "before", code, Point.INTEGRATION, why, (first.node,))
    for stmt, call in fits:
        _add_callback(plan, stmt, call, callback)
    if tensorflow:
        plan.need_import("wandb.integration.keras", "WandbMetricsLogger")
    else:
        plan.need_import("keras")
    plan_finish(plan)
    return True


def _imports_keras(plan: Plan) -> bool:
    return _imports(plan, "keras") or _imports(plan, "tensorflow")


def _imports(plan: Plan, package: str) -> bool:
    for stmt in plan.script.in_scope(plan.script.module_scope):
        for small in small_statements(stmt.node):
            text = code_of(small)
            if isinstance(small, cst.Import | cst.ImportFrom) and package in text:
                return True
    return False


def _constants(plan: Plan, first: Stmt) -> str | None:
    """The hyperparameter constants set before training, as one dict."""
    found = constants(plan.script, first.block, first)
    if not found:
        return None
    return "{" + ", ".join(f'"{name.lower()}": {name}' for _, name in found) + "}"


def _fit_settings(call: cst.Call) -> str:
    """The settings written into the `fit` call itself, when there is no config."""
    pairs = [
        f'"{arg.keyword.value}": {code_of(arg.value).strip()}'
        for arg in call.args
        if arg.keyword is not None
        and arg.keyword.value in ("epochs", "batch_size", "validation_split")
    ]
    return "{" + ", ".join(pairs) + "}"


def _add_callback(plan: Plan, stmt: Stmt, call: cst.Call, code: str) -> None:
    callback = cst.parse_expression(code)
    existing = keyword_arg(call, "callbacks")
    if existing is None:
        value: cst.BaseExpression = cst.List([cst.Element(callback)])
    elif isinstance(existing, cst.List):
        value = existing.with_changes(
            elements=[*existing.elements, cst.Element(callback)]
        )
    else:
        value = cst.List([cst.StarredElement(existing), cst.Element(callback)])
    new_stmt = stmt.node.deep_replace(call, with_keyword(call, "callbacks", value))
    assert isinstance(new_stmt, cst.BaseStatement)
    code = plan.module.code_for_node(new_stmt).strip()
    why = "W&B's Keras callback logs each epoch's metrics from `fit` on line {0}"
    plan.replace(stmt, new_stmt, code, Point.INTEGRATION, why, (stmt.node,))
