"""Small, fast questions about libcst nodes: names, calls, and child walking.

libcst's visitor machinery rebuilds every node it passes, which costs as much as
parsing again; these helpers read the dataclass fields directly instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import libcst as cst

# Fields that only hold whitespace, punctuation or tokens: never a call or a name.
_TOKEN_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "comma",
        "semicolon",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "newline",
        "trailing_whitespace",
        "equal",
        "dot",
        "colon",
        "operator",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "asynchronous",
        "star",
        "whitespace_before_colon",
    }
)
_CHILD_FIELDS: dict[type[cst.CSTNode], tuple[str, ...]] = {}


def _child_fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    names = _CHILD_FIELDS.get(kind)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(kind)
            if f.name not in _TOKEN_FIELDS and not f.name.startswith("whitespace")
        )
        _CHILD_FIELDS[kind] = names
    return names


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The direct child nodes of `node`, skipping whitespace and punctuation."""
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, tuple | list):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


def descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node below `node`, not entering nested functions, classes or lambdas."""
    stack = list(children(node))
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, cst.FunctionDef | cst.ClassDef | cst.Lambda):
            stack.extend(children(current))


def calls_in(node: cst.CSTNode) -> Iterator[cst.Call]:
    if isinstance(node, cst.Call):
        yield node
    for child in descendants(node):
        if isinstance(child, cst.Call):
            yield child


def names_in(node: cst.CSTNode) -> Iterator[str]:
    if isinstance(node, cst.Name):
        yield node.value
    for child in descendants(node):
        if isinstance(child, cst.Name):
            yield child.value


def read_names(node: cst.CSTNode) -> set[str]:
    """Names an expression reads; not attributes, keywords or comprehension targets."""
    found: set[str] = set()
    bound: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            found.add(current.value)
        elif isinstance(current, cst.Attribute | cst.Arg):
            stack.append(current.value)
        else:
            if isinstance(current, cst.CompFor):
                bound.update(assigned_names(current.target))
                stack.extend(c for c in children(current) if c is not current.target)
                continue
            stack.extend(children(current))
    return found - bound


def dotted(node: cst.BaseExpression | None) -> str | None:
    """`a.b.c` for a chain of names and attributes, otherwise None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def call_name(call: cst.Call) -> str | None:
    return dotted(call.func)


def method_name(call: cst.Call) -> str | None:
    """The last part of the called name: `step` for `opt.step()` and `step()`."""
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return None


def receiver(call: cst.Call) -> cst.BaseExpression | None:
    """The object a method is called on: `opt` for `opt.step()`."""
    return call.func.value if isinstance(call.func, cst.Attribute) else None


def root_name(node: cst.BaseExpression) -> str | None:
    """The leftmost name of an attribute chain, subscript or method call."""
    while True:
        if isinstance(node, cst.Name):
            return node.value
        if isinstance(node, cst.Attribute | cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Call):
            node = node.func
        else:
            return None


def positional_args(call: cst.Call) -> list[cst.BaseExpression]:
    return [a.value for a in call.args if a.keyword is None and not a.star]


def keyword_arg(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def assigned_names(target: cst.BaseExpression) -> list[str]:
    """Plain names bound by an assignment target, unpacking tuples and lists."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, cst.Tuple | cst.List):
        names: list[str] = []
        for element in target.elements:
            names.extend(assigned_names(element.value))
        return names
    if isinstance(target, cst.StarredElement):
        return assigned_names(target.value)
    return []


def small_statements(stmt: cst.BaseStatement) -> tuple[cst.BaseSmallStatement, ...]:
    if isinstance(stmt, cst.SimpleStatementLine):
        return tuple(stmt.body)
    return ()


def expression_of(stmt: cst.BaseStatement) -> cst.BaseExpression | None:
    """The expression of a statement that is a single bare expression."""
    body = small_statements(stmt)
    if len(body) == 1 and isinstance(body[0], cst.Expr):
        return body[0].value
    return None


def is_docstring(stmt: cst.BaseStatement) -> bool:
    expression = expression_of(stmt)
    return isinstance(expression, cst.SimpleString | cst.ConcatenatedString)
