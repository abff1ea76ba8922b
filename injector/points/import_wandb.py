"""Add `import wandb` (and what the other points need) after the last top-level import.

Imports inside functions, `if` or `try` blocks do not count as the place to put it,
and a module already imported at the top level is not imported again. The
statements are libcst nodes built directly: libcst's AddImportsVisitor would do
the same but builds its matcher tables on every use (about 25 ms, twice the whole
parse of a typical script) and only looks at the first block of imports.
"""

from __future__ import annotations

import libcst as cst

from injector._matchers import dotted, is_docstring, small_statements
from injector.edits import Edit, Where
from injector.points import Plan
from injector.result import Point
from injector.script import Stmt

DESCRIPTION = "Import wandb, and what the inserted code uses, after the last import."


def plan_imports(plan: Plan) -> None:
    if not plan.edits or not plan.imports:
        return
    module_stmts = [
        s for s in plan.script.in_scope(plan.script.module_scope) if not s.parents
    ]
    bound = _imported_at_top(module_stmts)
    statements: list[cst.BaseStatement] = [
        _import_statement(module, name)
        for module, name in plan.imports
        if (name or module) not in bound
    ]
    if not statements:
        return
    anchor, where = _position(plan, module_stmts)
    code = "\n".join(plan.module.code_for_node(s).strip() for s in statements)
    what = ", ".join(sorted({m for m, _ in plan.imports}))
    reason = f"the inserted code uses {what}"
    if where == "after" and _is_import(anchor):
        reason += "; placed after the last top-level import, on line {0}"
    edit = Edit(anchor, where, code, Point.IMPORT, reason, (anchor.node,), statements)
    plan.edits.insert(0, edit)


def _import_statement(module: str, name: str | None) -> cst.SimpleStatementLine:
    """`import module`, or `from module import name`."""
    if name is None:
        small: cst.BaseSmallStatement = cst.Import(
            names=[cst.ImportAlias(name=_dotted_name(module))]
        )
    else:
        small = cst.ImportFrom(
            module=_dotted_name(module), names=[cst.ImportAlias(name=cst.Name(name))]
        )
    return cst.SimpleStatementLine(body=[small])


def _dotted_name(module: str) -> cst.Name | cst.Attribute:
    """`a.b.c` as the nested attribute node an import statement holds."""
    first, *rest = module.split(".")
    node: cst.Name | cst.Attribute = cst.Name(first)
    for part in rest:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def _is_import(stmt: Stmt) -> bool:
    body = small_statements(stmt.node)
    return bool(body) and all(isinstance(s, cst.Import | cst.ImportFrom) for s in body)


def _imported_at_top(module_stmts: list[Stmt]) -> set[str]:
    """Names bound by the module's top-level imports."""
    bound: set[str] = set()
    for stmt in module_stmts:
        for small in small_statements(stmt.node):
            if not isinstance(small, cst.Import | cst.ImportFrom):
                continue
            if isinstance(small.names, cst.ImportStar):
                continue
            for alias in small.names:
                target = alias.asname.name if alias.asname else alias.name
                name = (
                    dotted(target)
                    if isinstance(target, cst.Name | cst.Attribute)
                    else None
                )
                if name:
                    bound.add(name if alias.asname else name.split(".")[0])
                    bound.add(name)
    return bound


def _position(plan: Plan, module_stmts: list[Stmt]) -> tuple[Stmt, Where]:
    """After the last top-level import that comes before any module-level use."""
    module_block = module_stmts[0].block
    uses = [e.anchor.top_in(module_block) for e in plan.edits]
    limit = min((s.index for s in uses if s is not None), default=len(module_stmts))
    imports = [s for s in module_stmts if _is_import(s) and s.index < limit]
    if imports:
        return imports[-1], "after"
    head = 1 if is_docstring(module_stmts[0].node) else 0
    if head < len(module_stmts) and head <= limit:
        return module_stmts[head], "before"
    return module_stmts[head - 1], "after"
