"""Names the inserted code needs that the script binds to something else."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from injector._matchers import assigned_names, descendants, dotted, small_statements
from injector.script import Script, Stmt

# What an import binds: (module, None) for the module, (module, name) for a name.
Imported = tuple[str, str | None]
# What `name = None` binds: the fallback of an optional import, if one is there.
_NONE_FALLBACK: Imported = ("None", None)


def find_clash(script: Script, imports: list[Imported]) -> tuple[str, Stmt] | None:
    """The first name the inserted imports bind that a statement binds to
    something else, with that statement: the inserted calls would reach it."""
    wanted = {_bound_name(i): _as_bound(i) for i in imports}
    fallbacks: dict[str, Stmt] = {}
    imported_here: set[str] = set()
    for stmt in script.statements:
        for name, imported in _bindings(stmt.node):
            if name not in wanted:
                continue
            if imported is _NONE_FALLBACK:
                fallbacks.setdefault(name, stmt)
            elif imported == wanted[name]:
                imported_here.add(name)
            else:
                return name, stmt
    # `name = None` is how an optional import falls back; with no import of the
    # name anywhere it is no fallback, and it would undo the inserted import.
    for name, stmt in fallbacks.items():
        if name not in imported_here:
            return name, stmt
    return None


def _bound_name(imported: Imported) -> str:
    module, name = imported
    return name or module.split(".")[0]


def _as_bound(imported: Imported) -> Imported:
    """`import a.b` binds the module `a`."""
    module, name = imported
    return (module.split(".")[0], None) if name is None else imported


def _bindings(node: cst.BaseStatement) -> Iterator[tuple[str, Imported | None]]:
    """The names `node` binds, each with what it imports (None if not an
    import, _NONE_FALLBACK for `name = None`)."""
    if isinstance(node, cst.FunctionDef):
        yield node.name.value, None
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            yield param.name.value, None
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                yield star.name.value, None
    elif isinstance(node, cst.ClassDef):
        yield node.name.value, None
    elif isinstance(node, cst.For):
        yield from ((n, None) for n in assigned_names(node.target))
    elif isinstance(node, cst.With):
        for item in node.items:
            if item.asname is not None:
                yield from ((n, None) for n in assigned_names(item.asname.name))
    for small in small_statements(node):
        yield from _small_bindings(small)
    for header in _headers(node):
        yield from _walrus_bindings(header)


def _small_bindings(
    small: cst.BaseSmallStatement,
) -> Iterator[tuple[str, Imported | None]]:
    if isinstance(small, cst.Import):
        for alias in small.names:
            module = dotted(alias.name) or ""
            if alias.asname is None:
                yield module.split(".")[0], (module.split(".")[0], None)
            elif isinstance(alias.asname.name, cst.Name):
                yield alias.asname.name.value, (module, None)
    elif isinstance(small, cst.ImportFrom) and not isinstance(
        small.names, cst.ImportStar
    ):
        module = "." * len(small.relative) + (dotted(small.module) or "")
        for alias in small.names:
            name = dotted(alias.name) or ""
            target = alias.asname.name if alias.asname else alias.name
            if isinstance(target, cst.Name):
                yield target.value, (module, name)
    elif isinstance(small, cst.Assign):
        what = _NONE_FALLBACK if _is_none(small.value) else None
        for assigned in small.targets:
            yield from ((n, what) for n in assigned_names(assigned.target))
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        what = _NONE_FALLBACK if _is_none(small.value) else None
        yield from ((n, what) for n in assigned_names(small.target))
    elif isinstance(small, cst.AugAssign | cst.AnnAssign):
        yield from ((n, None) for n in assigned_names(small.target))
    yield from _walrus_bindings(small)


def _headers(node: cst.BaseStatement) -> tuple[cst.CSTNode, ...]:
    """The expressions a compound statement evaluates in its header."""
    if isinstance(node, cst.If | cst.While):
        return (node.test,)
    if isinstance(node, cst.For):
        return (node.iter,)
    if isinstance(node, cst.With):
        return tuple(node.items)
    if isinstance(node, cst.Match):
        return (node.subject,)
    return ()


def _walrus_bindings(node: cst.CSTNode) -> Iterator[tuple[str, Imported | None]]:
    for inner in (node, *descendants(node)):
        if isinstance(inner, cst.NamedExpr):
            yield from ((n, None) for n in assigned_names(inner.target))


def _is_none(value: cst.BaseExpression) -> bool:
    return isinstance(value, cst.Name) and value.value == "None"
