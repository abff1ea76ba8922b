"""Which values a script reports, whether each is a tensor or a number, and its key."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from injector._matchers import (
    assigned_names,
    call_name,
    dotted,
    method_name,
    receiver,
)
from injector.script import Script, Stmt

ValueKind = Literal["tensor", "number", "unknown"]
_NUMBER_CALLS = re.compile(
    r"^(float|int|round|len|abs|min|max|sum|math\.\w+|np\.\w+|numpy\.\w+|time\.\w+)$"
)
_NUMBER_METHODS = ("item", "numel", "__float__", "__len__")
_TENSOR_METHODS = (
    "float",
    "double",
    "half",
    "mean",
    "sum",
    "cpu",
    "detach",
    "to",
    "clone",
)
_TENSOR_CALLS = re.compile(
    r"(loss|criterion|cross_entropy|nll|mse|l1|bce|kl_div|F\.\w+|torch\.\w+|model|net)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Metric:
    """A value to log: its key (without train/ or eval/) and the code for it."""

    key: str
    code: str


class Kinds:
    """Infers, from assignments before a statement, whether a name holds a tensor."""

    def __init__(self, script: Script) -> None:
        self.script = script
        # Names of config objects: their attributes are settings, plain values.
        self.settings: set[str] = set()
        # (scope, name) -> assignments in source order, as (position, statement).
        self._assignments: dict[
            tuple[int, str], list[tuple[int, cst.BaseSmallStatement]]
        ]
        self._assignments = {}
        for stmt in script.statements:
            if isinstance(stmt.node, cst.SimpleStatementLine):
                for small in stmt.node.body:
                    for name in _targets(small):
                        key = (id(stmt.scope), name)
                        self._assignments.setdefault(key, []).append(
                            (stmt.position, small)
                        )

    def position(self, stmt: Stmt) -> int:
        return stmt.position

    def last_assignment(
        self, name: str, before: Stmt, after: Stmt | None = None
    ) -> cst.BaseSmallStatement | None:
        """The last assignment to `name` in `before`'s scope, in source order between
        `after` and `before`."""
        found = self._assignments.get((id(before.scope), name), [])
        index = bisect.bisect_left(found, before.position, key=lambda item: item[0])
        if index == 0:
            return None
        position, small = found[index - 1]
        floor = after.position if after is not None else -1
        return small if position > floor else None

    def of_name(self, name: str, at: Stmt, depth: int = 0) -> ValueKind:
        small = self.last_assignment(name, at)
        if small is None or depth > 4:
            return "unknown"
        value = (
            small.value
            if isinstance(small, cst.Assign | cst.AnnAssign | cst.AugAssign)
            else None
        )
        if value is None:
            return "unknown"
        kind = self.of(value, at, depth + 1)
        if isinstance(small, cst.AugAssign) and kind == "unknown":
            return "unknown"
        return kind

    def of(self, expression: cst.BaseExpression, at: Stmt, depth: int = 0) -> ValueKind:
        if isinstance(expression, cst.Integer | cst.Float):
            return "number"
        if isinstance(expression, cst.UnaryOperation):
            return self.of(expression.expression, at, depth)
        if isinstance(expression, cst.Name):
            return self.of_name(expression.value, at, depth)
        if isinstance(expression, cst.BinaryOperation):
            kinds = {
                self.of(expression.left, at, depth),
                self.of(expression.right, at, depth),
            }
            if "tensor" in kinds:
                return "tensor"
            return "number" if kinds == {"number"} else "unknown"
        if isinstance(expression, cst.Call):
            kind = _call_kind(expression)
            inner = receiver(expression)
            if (
                kind == "unknown"
                and method_name(expression) in _TENSOR_METHODS
                and inner
            ):
                # `.float()`, `.mean()` and the like keep a tensor a tensor.
                return "tensor" if self.of(inner, at, depth + 1) == "tensor" else kind
            return kind
        if isinstance(expression, cst.Attribute) and dotted(expression):
            return "number" if root_of(expression) in self.settings else "unknown"
        return "unknown"


def root_of(expression: cst.Attribute) -> str | None:
    node: cst.BaseExpression = expression
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else None


def _call_kind(call: cst.Call) -> ValueKind:
    method = method_name(call)
    if method in _NUMBER_METHODS or (method == "size" and call.args):
        return "number"
    name = call_name(call) or ""
    if _NUMBER_CALLS.match(name):
        return "number"
    if _TENSOR_CALLS.search(name):
        return "tensor"
    return "unknown"


def _targets(small: cst.BaseSmallStatement) -> list[str]:
    if isinstance(small, cst.Assign):
        names: list[str] = []
        for target in small.targets:
            names.extend(assigned_names(target.target))
        return names
    if isinstance(small, cst.AnnAssign | cst.AugAssign):
        return assigned_names(small.target)
    return []


_PLURAL = re.compile(
    r"(?<!los)s$|_list$|_dict$|^(metrics|results|stats)$", re.IGNORECASE
)
_CONTAINER_CALLS = re.compile(
    r"^(list|dict|tuple|set|sorted|zip|map|filter|enumerate|range|"
    r"(np|numpy|torch)\.(array|stack|cat|tensor|zeros|ones|concatenate))$"
)


def number_code(
    kinds: Kinds,
    expression: cst.BaseExpression,
    at: Stmt,
    *,
    scalar_fallback: bool = False,
) -> str | None:
    """Code that turns a reported value into a Python number, or None when unsafe.

    With `scalar_fallback`, a value of unknown type bound from a call (a metric
    function's result) goes through `float()`, which takes numbers, NumPy scalars
    and one-element tensors.
    """
    code = code_of(expression).strip()
    kind = kinds.of(expression, at)
    if kind == "tensor":
        simple = isinstance(expression, cst.Name | cst.Attribute | cst.Subscript)
        return f"{code}.item()" if simple else f"({code}).item()"
    if kind == "number":
        return code
    if (
        scalar_fallback
        and isinstance(expression, cst.Name)
        and not _PLURAL.search(expression.value)
    ):
        small = kinds.last_assignment(expression.value, at)
        value = getattr(small, "value", None)
        if isinstance(value, cst.Call) and not _CONTAINER_CALLS.match(
            call_name(value) or ""
        ):
            return f"float({code})"
    return None


def as_number(code: str, kind: ValueKind) -> str | None:
    """Code for a Python number from a value of `kind`; None when that is unsafe."""
    if kind == "tensor":
        return f"{code}.item()"
    if kind == "number":
        return code
    return None


def code_of(expression: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(expression)
