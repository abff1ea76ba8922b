"""Add `import wandb` (and what the other points need) after the last top-level import.

Uses libcst's AddImportsVisitor to build each import, so a module already imported
at the top level is not imported again; places it after the last top-level import,
not only after the first block of them. Imports inside functions, `if` or `try`
blocks do not count.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from injector._matchers import is_docstring, small_statements
from injector.edits import Edit, Where, parse_snippet
from injector.points import Plan
from injector.result import Point
from injector.script import Stmt

DESCRIPTION = "Import wandb, and what the inserted code uses, after the last import."


def plan_imports(plan: Plan) -> None:
    if not plan.edits or not plan.imports:
        return
    module_stmts = [
        s for s in plan.script.statements if s.scope.kind == "module" and not s.parents
    ]
    anchor, where = _position(plan, module_stmts)
    top_imports = [
        s.node
        for s in module_stmts
        if _is_import(s) and isinstance(s.node, cst.SimpleStatementLine)
    ]
    statements: list[cst.BaseStatement] = []
    for module_name, name in plan.imports:
        statements.extend(_import_statement(plan, top_imports, module_name, name))
    if not statements:
        return
    code = "".join(plan.module.code_for_node(s) for s in statements)
    what = ", ".join(sorted({m for m, _ in plan.imports}))
    reason = f"the inserted code uses {what}"
    if where == "after" and _is_import(anchor):
        reason += "; placed after the last top-level import, on line {0}"
    edit = Edit(
        anchor, where, statements, Point.IMPORT, reason, code.strip(), (anchor.node,)
    )
    plan.edits.insert(0, edit)


def _is_import(stmt: Stmt) -> bool:
    body = small_statements(stmt.node)
    return bool(body) and all(isinstance(s, cst.Import | cst.ImportFrom) for s in body)


def _position(plan: Plan, module_stmts: list[Stmt]) -> tuple[Stmt, Where]:
    """After the last top-level import that comes before any module-level use."""
    first_use = min(
        (e.anchor.top_in(module_stmts[0].block) for e in plan.edits),
        key=lambda s: s.index if s is not None else len(module_stmts),
        default=None,
    )
    limit = first_use.index if first_use is not None else len(module_stmts)
    imports = [s for s in module_stmts if _is_import(s) and s.index < limit]
    if imports:
        return imports[-1], "after"
    head = 1 if module_stmts and is_docstring(module_stmts[0].node) else 0
    if head < len(module_stmts) and head <= limit:
        return module_stmts[head], "before"
    return module_stmts[head - 1], "after"


def _import_statement(
    plan: Plan,
    top_imports: list[cst.SimpleStatementLine],
    module_name: str,
    name: str | None,
) -> list[cst.BaseStatement]:
    bound = name or module_name
    if bound in plan.script.module_scope.bound and _imported_at_top(top_imports, bound):
        return []
    context = CodemodContext()
    AddImportsVisitor.add_needed_import(context, module_name, name)
    before = cst.Module(body=top_imports)
    after = AddImportsVisitor(context).transform_module(before)
    originals = {id(node) for node in top_imports}
    added = [node for node in after.body if id(node) not in originals]
    if len(added) == 1 and len(after.body) == len(top_imports) + 1:
        return [_without_leading_lines(added[0])]
    # The visitor merged into an existing `from x import ...`; keep that line as
    # it is and add a separate import instead.
    line = f"from {module_name} import {name}\n" if name else f"import {module_name}\n"
    return parse_snippet(line, plan.module)


def _imported_at_top(top_imports: list[cst.SimpleStatementLine], bound: str) -> bool:
    for stmt in top_imports:
        for small in small_statements(stmt):
            if isinstance(small, cst.Import | cst.ImportFrom) and not isinstance(
                small.names, cst.ImportStar
            ):
                for alias in small.names:
                    target = alias.asname.name if alias.asname else alias.name
                    if cst.Module(body=[]).code_for_node(target) == bound:
                        return True
    return False


def _without_leading_lines(node: cst.BaseStatement) -> cst.BaseStatement:
    if isinstance(node, cst.SimpleStatementLine) and node.leading_lines:
        return node.with_changes(leading_lines=())
    return node
