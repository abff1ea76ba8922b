"""Transformers' Trainer: report to W&B through `report_to`, not through added calls.

Since Transformers 5 `report_to` defaults to "none". A `TrainingArguments(...)`
call gets "wandb" added to its `report_to`, keeping any other tracker it names;
arguments parsed by HfArgumentParser get it after parsing. The project comes from
WANDB_PROJECT, set only when the environment has none. A `report_to` that is
computed at run time is left as it is, with a reason.
"""

from __future__ import annotations

import json
import re

import libcst as cst

from injector._matchers import call_name, dotted, positional_args, small_statements
from injector.frameworks import with_keyword
from injector.points import Plan, insertable
from injector.result import Point
from injector.script import Stmt

DESCRIPTION = "Switch on the Trainer's own W&B reporting."
_ARGUMENTS = re.compile(r"(^|\.)\w*TrainingArguments$|(^|\.)\w*Config$")
_TRAINER = re.compile(r"(^|\.)\w*Trainer$")


def plan_transformers(plan: Plan, source: bytes) -> bool:
    """True when the script trains with a Transformers (or TRL) Trainer."""
    if b"transformers" not in source and b"trl" not in source:
        return False
    calls = [(s, c) for s in plan.script.statements for c in s.calls]
    own = {
        s.node.name.value
        for s in plan.script.statements
        if isinstance(s.node, cst.ClassDef)
    }
    trainers = [
        (s, c)
        for s, c in calls
        if _TRAINER.search(call_name(c) or "") and _name(c) not in own
    ]
    if not trainers:
        return False
    arguments = [
        (s, c)
        for s, c in calls
        if _ARGUMENTS.search(call_name(c) or "") and "TrainingArguments" in _name(c)
    ]
    plan.framework = "transformers"
    for stmt, call in arguments:
        _report_to_wandb(plan, stmt, call)
    if not arguments and not _after_parsing(plan):
        plan.omit(
            Point.INTEGRATION,
            'the Trainer\'s arguments are built elsewhere; add "wandb" to their '
            "report_to",
        )
        return True
    first = min((s for s, _ in arguments), key=lambda s: s.position, default=None)
    _set_project(plan, first or trainers[0][0])
    return True


def _name(call: cst.Call) -> str:
    return (call_name(call) or "").rsplit(".", 1)[-1]


def _report_to_wandb(plan: Plan, stmt: Stmt, call: cst.Call) -> None:
    if not insertable(stmt) or len(small_statements(stmt.node)) != 1:
        plan.omit(Point.INTEGRATION, "the Trainer's arguments are on a one-line block")
        return
    current = next(
        (a.value for a in call.args if a.keyword and a.keyword.value == "report_to"),
        None,
    )
    value = _with_wandb(current)
    if value is None:
        plan.omit(
            Point.INTEGRATION,
            'report_to is computed at run time (line {0}); add "wandb" to it',
            (stmt.node,),
        )
        return
    if value is current:
        return
    new_call = with_keyword(call, "report_to", value)
    new_stmt = stmt.node.deep_replace(call, new_call)
    assert isinstance(new_stmt, cst.BaseStatement)
    code = plan.module.code_for_node(new_stmt).strip()
    why = "the Trainer reports to W&B itself once its arguments ask for it, line {0}"
    plan.replace(stmt, new_stmt, code, Point.INTEGRATION, why, (stmt.node,))


def _with_wandb(current: cst.BaseExpression | None) -> cst.BaseExpression | None:
    """`report_to` naming W&B too; `current` itself when it already does."""
    wandb = cst.SimpleString('"wandb"')
    if current is None:
        return wandb
    if isinstance(current, cst.SimpleString):
        text = current.evaluated_value
        if text in ("wandb", "all"):
            return current
        if text == "none":
            return wandb
        return cst.List([cst.Element(current), cst.Element(wandb)])
    if isinstance(current, cst.List | cst.Tuple):
        values = [e.value for e in current.elements]
        strings = [v for v in values if isinstance(v, cst.SimpleString)]
        if len(strings) != len(values):
            return None
        texts = [v.evaluated_value for v in strings]
        if "wandb" in texts or "all" in texts:
            return current
        kept = [
            cst.Element(v) for v, t in zip(values, texts, strict=True) if t != "none"
        ]
        return cst.List([*kept, cst.Element(wandb)])
    return None


def _after_parsing(plan: Plan) -> bool:
    """Arguments parsed by HfArgumentParser: add W&B to them right after parsing."""
    for stmt in plan.script.statements:
        for small in small_statements(stmt.node):
            if not isinstance(small, cst.Assign) or not isinstance(
                small.value, cst.Call
            ):
                continue
            name = _training_arguments_name(plan, small)
            if name is None or not insertable(stmt):
                continue
            code = (
                f'if "wandb" not in {name}.report_to:\n'
                f'    {name}.report_to = [*{name}.report_to, "wandb"]\n'
            )
            why = "the Trainer reports to W&B once its parsed arguments ask for it"
            plan.insert(
                stmt, "after", code, Point.INTEGRATION, why + ", line {0}", (stmt.node,)
            )
            return True
    return False


def _training_arguments_name(plan: Plan, small: cst.Assign) -> str | None:
    """The target bound to TrainingArguments by `a, b, c = parser.parse_...()`."""
    value = small.value
    assert isinstance(value, cst.Call)
    method = (call_name(value) or "").rsplit(".", 1)[-1]
    if not method.startswith("parse_"):
        return None
    parser_name = (
        dotted(value.func.value) if isinstance(value.func, cst.Attribute) else None
    )
    classes = _parser_classes(plan, parser_name)
    target = small.targets[0].target
    names = (
        [e.value for e in target.elements]
        if isinstance(target, cst.Tuple)
        else [target]
    )
    for cls, name in zip(classes, names, strict=False):
        if "TrainingArguments" in cls and isinstance(name, cst.Name):
            return name.value
    return None


def _parser_classes(plan: Plan, parser: str | None) -> list[str]:
    for stmt in plan.script.statements:
        for small in small_statements(stmt.node):
            if not (
                isinstance(small, cst.Assign) and isinstance(small.value, cst.Call)
            ):
                continue
            if dotted(small.targets[0].target) != parser:
                continue
            if not (call_name(small.value) or "").endswith("HfArgumentParser"):
                continue
            args = positional_args(small.value)
            if args and isinstance(args[0], cst.Tuple | cst.List):
                return [dotted(e.value) or "" for e in args[0].elements]
            return [dotted(args[0]) or ""] if args else []
    return []


def _set_project(plan: Plan, before: Stmt) -> None:
    if not insertable(before):
        return
    settings = {"project": plan.options.project_for(plan.path)}
    if plan.options.entity:
        settings["entity"] = plan.options.entity
    code = "".join(
        f'os.environ.setdefault("WANDB_{key.upper()}", {json.dumps(value)})\n'
        for key, value in settings.items()
    )
    names = " and ".join(f"WANDB_{key.upper()}" for key in settings)
    why = f"the Trainer's W&B run reads {names} from the environment, kept if set"
    plan.insert(before, "before", code, Point.INTEGRATION, why)
    plan.need_import("os")
