"""The outline read with ast, for the files the byte reader cannot vouch for."""

from __future__ import annotations

import ast

from injector.locate.outline import MAIN_UNIT, Binding, Outline

# Statements with statements inside them, where an import can hide.
_COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.TryStar,
    ast.Match,
)


def parse_outline(data: bytes, path: str) -> Outline:
    """Parse with ast (raises SyntaxError, ValueError, RecursionError, MemoryError)."""
    module = ast.parse(data, path)
    units, main_line = _units(module)
    bindings: dict[str, Binding] = {}
    import_lines: set[int] = set()
    _collect_imports(module.body, bindings, import_lines)
    return Outline(units, main_line, bindings, import_lines)


def _units(module: ast.Module) -> tuple[dict[str, tuple[int, int]], int | None]:
    units: dict[str, tuple[int, int]] = {}
    main_line = None
    for node in module.body:
        last = node.end_lineno or node.lineno
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            units[node.name] = (first, last)
        elif isinstance(node, ast.If) and _is_main_guard(node.test):
            units[MAIN_UNIT] = (node.lineno, last)
            main_line = node.lineno
    return units, main_line


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.comparators) == 1):
        return False
    sides = [test.left, test.comparators[0]]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    texts = {s.value for s in sides if isinstance(s, ast.Constant)}
    return names == {"__name__"} and texts == {"__main__"}


def _collect_imports(
    body: list[ast.stmt], bindings: dict[str, Binding], lines: set[int]
) -> None:
    """Imports anywhere among the statements, nested blocks included."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            _bind(node, bindings)
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
            continue
        if not isinstance(node, _COMPOUND):
            continue
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(node, name, ()):
                if isinstance(child, ast.stmt):
                    _collect_imports([child], bindings, lines)
                elif hasattr(child, "body"):
                    _collect_imports(child.body, bindings, lines)


def _bind(node: ast.Import | ast.ImportFrom, bindings: dict[str, Binding]) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            # `import a.b` binds `a`, and the code reads `a.b.name`.
            bindings[alias.asname or alias.name] = Binding(alias.name, 0, None)
        return
    for alias in node.names:
        key = alias.asname or alias.name
        bindings[key] = Binding(node.module or "", node.level, alias.name)
