"""One pass over a parsed script: each statement with its block, scope and loops."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

from injector._matchers import assigned_names, calls_in, children, descendants, dotted

ScopeKind = Literal["module", "function", "class"]
BlockOwner = cst.Module | cst.IndentedBlock | cst.SimpleStatementSuite
_BUILTINS = frozenset(dir(builtins))


@dataclass(eq=False)
class Scope:
    """A namespace: the module, a function or a class body."""

    kind: ScopeKind
    node: cst.Module | cst.FunctionDef | cst.ClassDef
    parent: Scope | None
    name: str
    params: list[str] = field(default_factory=list)
    bound: set[str] = field(default_factory=set)
    # The part of `bound` that import statements bind.
    imported: set[str] = field(default_factory=set)

    def resolves(self, name: str) -> bool:
        """Whether `name` is bound here, in an outer function, the module or builtins.

        Class bodies are skipped, as Python skips them for code in methods.
        """
        scope: Scope | None = self
        while scope is not None:
            visible = scope is self or scope.kind != "class"
            if visible and (name in scope.bound or name in scope.params):
                return True
            scope = scope.parent
        return name in _BUILTINS

    def unused_name(self, base: str) -> str:
        """`base`, or `base_2`, `base_3`... whichever no visible binding uses."""
        name, number = base, 1
        while self.resolves(name):
            number += 1
            name = f"{base}_{number}"
        return name

    @property
    def function(self) -> cst.FunctionDef | None:
        return self.node if isinstance(self.node, cst.FunctionDef) else None


@dataclass(eq=False)
class Block:
    """Statements in sequence: a module body, an indented block or a one-line suite."""

    owner: BlockOwner
    path: tuple[cst.CSTNode, ...]
    statements: list[Stmt] = field(default_factory=list)


@dataclass(eq=False)
class Stmt:
    """A statement, where it sits, and the calls in it (headers only, for compounds)."""

    node: cst.BaseStatement
    block: Block
    index: int
    scope: Scope
    parents: tuple[Stmt, ...]
    calls: list[cst.Call]
    # Place in the script's source-order list; statements nested in this one
    # follow it directly, up to `end`.
    position: int = 0
    end: int = 0

    @property
    def loops(self) -> tuple[Stmt, ...]:
        return tuple(p for p in self.parents if isinstance(p.node, cst.For | cst.While))

    def within(self, other: Stmt) -> bool:
        return other is self or other in self.parents

    def next_siblings(self) -> list[Stmt]:
        return self.block.statements[self.index + 1 :]

    def top_in(self, block: Block) -> Stmt | None:
        """The statement of `block` that is or contains this one."""
        for candidate in (self, *reversed(self.parents)):
            if candidate.block is block:
                return candidate
        return None


@dataclass(eq=False)
class Script:
    """The statements of a module in source order, with their scopes."""

    module: cst.Module
    statements: list[Stmt]
    scopes: list[Scope]
    functions: dict[str, list[Scope]]
    by_scope: dict[int, list[Stmt]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for stmt in self.statements:
            self.by_scope.setdefault(id(stmt.scope), []).append(stmt)

    def in_scope(self, scope: Scope) -> list[Stmt]:
        return self.by_scope.get(id(scope), [])

    def inside(self, outer: Stmt) -> Iterator[Stmt]:
        """Statements nested in `outer`, within the same scope."""
        nested = self.statements[outer.position + 1 : outer.end]
        return (s for s in nested if s.scope is outer.scope)

    @property
    def module_scope(self) -> Scope:
        return self.scopes[0]


def _header_nodes(stmt: cst.BaseStatement) -> Sequence[cst.CSTNode]:
    if isinstance(stmt, cst.SimpleStatementLine):
        return stmt.body
    if isinstance(stmt, cst.For):
        return (stmt.target, stmt.iter)
    if isinstance(stmt, cst.While | cst.If):
        return (stmt.test,)
    if isinstance(stmt, cst.With):
        return stmt.items
    if isinstance(stmt, cst.Match):
        return (stmt.subject,)
    if isinstance(stmt, cst.FunctionDef | cst.ClassDef):
        return stmt.decorators
    return ()


def _bodies(
    stmt: cst.BaseStatement,
) -> Iterator[tuple[tuple[cst.CSTNode, ...], BlockOwner]]:
    """The blocks directly inside a compound statement, with the nodes between."""
    if isinstance(stmt, cst.If):
        yield (stmt,), _owner(stmt.body)
        orelse = stmt.orelse
        if isinstance(orelse, cst.If):
            # An elif is a nested If in libcst; keep its statements at this level.
            for path, owner in _bodies(orelse):
                yield (stmt, *path), owner
        elif orelse is not None:
            yield (stmt, orelse), _owner(orelse.body)
    elif isinstance(stmt, cst.For | cst.While):
        yield (stmt,), _owner(stmt.body)
        if stmt.orelse is not None:
            yield (stmt, stmt.orelse), _owner(stmt.orelse.body)
    elif isinstance(stmt, cst.Try | cst.TryStar):
        yield (stmt,), _owner(stmt.body)
        for handler in stmt.handlers:
            yield (stmt, handler), _owner(handler.body)
        for extra in (stmt.orelse, stmt.finalbody):
            if extra is not None:
                yield (stmt, extra), _owner(extra.body)
    elif isinstance(stmt, cst.With | cst.FunctionDef | cst.ClassDef):
        yield (stmt,), _owner(stmt.body)
    elif isinstance(stmt, cst.Match):
        for case in stmt.cases:
            yield (stmt, case), _owner(case.body)


def _owner(suite: cst.BaseSuite) -> BlockOwner:
    assert isinstance(suite, cst.IndentedBlock | cst.SimpleStatementSuite)
    return suite


class _Scanner:
    def __init__(self, module: cst.Module) -> None:
        self.statements: list[Stmt] = []
        self.scopes: list[Scope] = []
        self.functions: dict[str, list[Scope]] = {}
        root = Scope("module", module, None, "<module>")
        self.scopes.append(root)
        self._block(module, (module,), root, ())

    def _block(
        self,
        owner: BlockOwner,
        path: tuple[cst.CSTNode, ...],
        scope: Scope,
        parents: tuple[Stmt, ...],
    ) -> None:
        block = Block(owner, path)
        body: Sequence[cst.BaseStatement | cst.BaseSmallStatement] = owner.body
        if isinstance(owner, cst.SimpleStatementSuite):
            # A one-line suite holds small statements; treat the suite as one line.
            body = [cst.SimpleStatementLine(body=owner.body)]
        for index, node in enumerate(body):
            assert isinstance(node, cst.BaseStatement)
            stmt = Stmt(node, block, index, scope, parents, [])
            stmt.position = len(self.statements)
            block.statements.append(stmt)
            self.statements.append(stmt)
            self._statement(stmt)
            stmt.end = len(self.statements)

    def _statement(self, stmt: Stmt) -> None:
        node, scope = stmt.node, stmt.scope
        for header in _header_nodes(node):
            stmt.calls.extend(calls_in(header))
            self._bind(header, scope)
        inner_scope = scope
        if isinstance(node, cst.FunctionDef | cst.ClassDef):
            scope.bound.add(node.name.value)
            inner_scope = self._new_scope(node, scope)
        elif isinstance(node, cst.For):
            scope.bound.update(assigned_names(node.target))
        elif isinstance(node, cst.With):
            for item in node.items:
                if item.asname is not None:
                    scope.bound.update(assigned_names(item.asname.name))
        elif isinstance(node, cst.Try | cst.TryStar):
            for handler in node.handlers:
                if handler.name is not None:
                    scope.bound.update(assigned_names(handler.name.name))
        # A new scope starts with no enclosing statements of its own.
        inner_parents = (*stmt.parents, stmt) if inner_scope is scope else ()
        for between, owner in _bodies(node):
            path = (*stmt.block.path, *between, owner)
            self._block(owner, path, inner_scope, inner_parents)

    def _new_scope(self, node: cst.FunctionDef | cst.ClassDef, parent: Scope) -> Scope:
        kind: ScopeKind = "function" if isinstance(node, cst.FunctionDef) else "class"
        scope = Scope(kind, node, parent, node.name.value)
        if isinstance(node, cst.FunctionDef):
            params = node.params
            for param in (
                *params.posonly_params,
                *params.params,
                *params.kwonly_params,
            ):
                scope.params.append(param.name.value)
            for star in (params.star_arg, params.star_kwarg):
                if isinstance(star, cst.Param):
                    scope.params.append(star.name.value)
            self.functions.setdefault(node.name.value, []).append(scope)
        self.scopes.append(scope)
        return scope

    def _bind(self, header: cst.CSTNode, scope: Scope) -> None:
        """Record the names a statement header binds in `scope`."""
        if isinstance(header, cst.Assign):
            for target in header.targets:
                scope.bound.update(assigned_names(target.target))
        elif isinstance(header, cst.AnnAssign | cst.AugAssign):
            scope.bound.update(assigned_names(header.target))
        elif isinstance(header, cst.Import | cst.ImportFrom):
            names = set(imported_names(header))
            scope.bound |= names
            scope.imported |= names
        elif isinstance(header, cst.Global | cst.Nonlocal):
            scope.bound.update(n.name.value for n in header.names)
        for node in descendants(header):
            if isinstance(node, cst.NamedExpr):
                scope.bound.update(assigned_names(node.target))


def imported_names(node: cst.Import | cst.ImportFrom) -> Iterator[str]:
    """The names an import statement binds."""
    if isinstance(node.names, cst.ImportStar):
        return
    for alias in node.names:
        if alias.asname is not None:
            target = alias.asname.name
            if isinstance(target, cst.Name):
                yield target.value
        elif isinstance(node, cst.Import):
            # `import a.b` binds `a`.
            yield (dotted(alias.name) or "").split(".", 1)[0]
        else:
            assert isinstance(alias.name, cst.Name)
            yield alias.name.value


def scan(module: cst.Module) -> Script:
    scanner = _Scanner(module)
    return Script(module, scanner.statements, scanner.scopes, scanner.functions)


__all__ = ["Block", "Scope", "Script", "Stmt", "children", "imported_names", "scan"]
