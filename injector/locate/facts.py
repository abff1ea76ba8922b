"""What one parsed module defines, imports and uses, and where its clues sit."""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from dataclasses import dataclass, field

from injector.locate.clues import Clue, find_clues, line_numbers

# The unit of the `if __name__ == "__main__":` block. Code there never runs
# when another module imports this one.
MAIN_UNIT = "__main__"
# Every top-level definition, for `from module import *`.
ALL_NAMES = "*"
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


@dataclass(frozen=True)
class Binding:
    """A name an import statement binds: `module` at relative `level`, and the
    imported `name`, or None when the module itself is bound."""

    module: str
    level: int
    name: str | None


@dataclass(frozen=True)
class Use:
    """A use of an imported binding, with the attribute read from it if any."""

    binding: str
    attribute: str | None
    line: int


@dataclass
class Facts:
    clues: list[Clue]
    clue_lines: list[int]
    # Top-level definitions and the main block: name -> (first line, last line).
    units: dict[str, tuple[int, int]]
    main_line: int | None
    bindings: dict[str, Binding]
    # Uses of bindings, by the unit they sit in (None: module level).
    uses: dict[str | None, list[Use]] = field(default_factory=dict)
    _starts: list[tuple[int, str]] = field(init=False)

    def __post_init__(self) -> None:
        self._starts = sorted((first, name) for name, (first, _) in self.units.items())

    def unit_at(self, line: int) -> str | None:
        index = bisect_right(self._starts, (line, "\uffff")) - 1
        if index < 0:
            return None
        name = self._starts[index][1]
        return name if line <= self.units[name][1] else None

    def clues_in(self, unit: str | None) -> list[tuple[Clue, int]]:
        return [
            (clue, line)
            for clue, line in zip(self.clues, self.clue_lines, strict=True)
            if self.unit_at(line) == unit
        ]


def read_facts(data: bytes, path: str) -> Facts:
    """Parse with ast (raises SyntaxError, ValueError, RecursionError, MemoryError)."""
    module = ast.parse(data, path)
    units, main_line = _units(module)
    bindings: dict[str, Binding] = {}
    import_lines: set[int] = set()
    _collect_imports(module.body, bindings, import_lines)
    clues = find_clues(data)
    facts = Facts(
        clues,
        line_numbers(data, [c.position for c in clues]),
        units,
        main_line,
        bindings,
    )
    _collect_uses(data, facts, import_lines)
    return facts


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


def _collect_uses(data: bytes, facts: Facts, import_lines: set[int]) -> None:
    # Longest first, so `a.b` wins over `a`.
    names = sorted((n for n in facts.bindings if n != ALL_NAMES), key=len, reverse=True)
    if not names:
        return
    pattern = re.compile(
        rb"(?<![\w.])(" + b"|".join(re.escape(n.encode()) for n in names) + rb")\b"
        rb"(?:\.(\w+))?"
    )
    matches = list(pattern.finditer(data))
    lines = line_numbers(data, [m.start() for m in matches])
    for match, line in zip(matches, lines, strict=True):
        if line in import_lines:
            continue
        attribute = match[2].decode() if match[2] else None
        use = Use(match[1].decode(), attribute, line)
        facts.uses.setdefault(facts.unit_at(line), []).append(use)
