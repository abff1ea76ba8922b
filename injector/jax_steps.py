"""Functions JAX compiles or traces, and the compiled update steps loops call.

Code inside a traced function runs once, while JAX traces it, with abstract
values: a W&B call there would log nothing real. So nothing is ever inserted in
one; a JAX training loop is logged where it calls its compiled step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from injector._matchers import call_name, dotted, positional_args, small_statements
from injector.script import Scope, Script, Stmt

# Transformations whose function argument (or decorated function) JAX traces.
_TRACERS = re.compile(
    r"(?:^|\.)(jit|pjit|pmap|vmap|grad|value_and_grad|remat|checkpoint|scan|"
    r"fori_loop|while_loop|cond|switch|shard_map|xmap|filter_jit|filter_grad|"
    r"filter_value_and_grad|filter_pmap|compact)$"
)
# Calls that make a traced function a training update.
_UPDATES = re.compile(
    r"(?:^|\.)(grad|value_and_grad|filter_grad|filter_value_and_grad|"
    r"apply_gradients|apply_updates)$"
)
# A transformation that compiles (callers then run compiled code).
_COMPILERS = re.compile(r"(?:^|\.)(jit|pjit|pmap|filter_jit|filter_pmap)$")


@dataclass(frozen=True)
class Traced:
    """Names of traced functions, and of the compiled update steps."""

    functions: frozenset[str] = frozenset()
    updates: frozenset[str] = frozenset()

    def contains(self, scope: Scope) -> bool:
        """Whether code in `scope` runs while JAX traces."""
        current: Scope | None = scope
        while current is not None:
            if current.kind == "function" and current.name in self.functions:
                return True
            current = current.parent
        return False


@dataclass
class _Found:
    functions: set[str] = field(default_factory=set)
    compiled: set[str] = field(default_factory=set)
    # name = jax.jit(function): the name calls the compiled function.
    aliases: dict[str, str] = field(default_factory=dict)


def find_traced(script: Script, source: bytes) -> Traced:
    if b"jax" not in source:
        return Traced()
    found = _Found()
    for stmt in script.statements:
        node = stmt.node
        if isinstance(node, cst.FunctionDef):
            for decorator in node.decorators:
                transform = _transform_name(decorator.decorator)
                if transform and _TRACERS.search(transform):
                    found.functions.add(node.name.value)
                    if _COMPILERS.search(transform):
                        found.compiled.add(node.name.value)
        for call in stmt.calls:
            _note_transformed(script, stmt, call, found)
    updates = {
        name
        for name in found.compiled
        if any(_updates_in(script, scope) for scope in script.functions.get(name, []))
    }
    updates |= {alias for alias, name in found.aliases.items() if name in updates}
    return Traced(frozenset(found.functions), frozenset(updates))


def _note_transformed(
    script: Script, stmt: Stmt, call: cst.Call, found: _Found
) -> None:
    """`jax.jit(train_step)`, `jax.lax.scan(body, ...)`: the function is traced."""
    transform = call_name(call) or ""
    if not _TRACERS.search(transform):
        return
    args = positional_args(call)
    target = args[0] if args else None
    if not (isinstance(target, cst.Name) and target.value in script.functions):
        return
    found.functions.add(target.value)
    if not _COMPILERS.search(transform):
        return
    found.compiled.add(target.value)
    for small in small_statements(stmt.node):
        if isinstance(small, cst.Assign) and small.value is call:
            for assigned in small.targets:
                alias = dotted(assigned.target)
                if alias is not None:
                    found.aliases[alias] = target.value


def _transform_name(decorator: cst.BaseExpression) -> str | None:
    """`jax.jit` for `@jax.jit`, `@jax.jit(...)` and `@partial(jax.jit, ...)`."""
    if not isinstance(decorator, cst.Call):
        return dotted(decorator)
    name = call_name(decorator) or ""
    if name.split(".")[-1] == "partial":
        args = positional_args(decorator)
        return dotted(args[0]) if args else None
    return name


def _updates_in(script: Script, scope: Scope) -> bool:
    """Whether the function computes gradients or applies them, itself or in a
    function nested in it."""
    return any(
        _UPDATES.search(call_name(call) or "")
        for stmt in script.statements
        if _within(stmt.scope, scope)
        for call in stmt.calls
    )


def _within(scope: Scope, outer: Scope) -> bool:
    current: Scope | None = scope
    while current is not None:
        if current is outer:
            return True
        current = current.parent
    return False
