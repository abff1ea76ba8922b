"""Frameworks with a W&B integration of their own: switch it on, add no calls."""

from __future__ import annotations

import libcst as cst

from injector._matchers import keyword_arg
from injector.config import find_config_sites
from injector.points import Plan
from injector.script import Stmt


def with_keyword(call: cst.Call, name: str, value: cst.BaseExpression) -> cst.Call:
    """`call` with `name=value` set: replaced where present, else added last, in the
    style of the call's own arguments (one per line stays one per line)."""
    if keyword_arg(call, name) is not None:
        args = [
            a.with_changes(value=value) if a.keyword and a.keyword.value == name else a
            for a in call.args
        ]
        return call.with_changes(args=args)
    new = cst.Arg(
        keyword=cst.Name(name),
        value=value,
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""),
            whitespace_after=cst.SimpleWhitespace(""),
        ),
    )
    args = list(call.args)
    if not args:
        return call.with_changes(args=[new])
    last = args[-1]
    between = args[-2].comma if len(args) > 1 else cst.MaybeSentinel.DEFAULT
    if isinstance(between, cst.MaybeSentinel):
        between = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    trailing = last.comma
    args[-1] = last.with_changes(comma=between)
    args.append(new.with_changes(comma=trailing))
    return call.with_changes(args=args)


def config_before(plan: Plan, stmt: Stmt) -> str | None:
    """The config the script builds in the Trainer's scope before the Trainer."""
    for site in reversed(find_config_sites(plan.script)):
        if site.scope is stmt.scope and site.stmt.position < stmt.position:
            plan.config, plan.config_kind = site, site.kind
            plan.config_expression = site.expression
            for module, name in site.imports:
                plan.need_import(module, name)
            return site.expression
    return None
