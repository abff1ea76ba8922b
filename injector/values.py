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
_REPORT_FUNCS = re.compile(
    r"^(print|tqdm\.write|(\w+\.)*(log(ger|ging)?|_?LOG(GER)?)\.(info|debug|warning)|"
    r"(\w+\.)?set_postfix|(\w+\.)?set_description)$"
)
EVAL_PREFIX = re.compile(r"^(val|valid|validation|test|eval|dev)(_|$)", re.IGNORECASE)
# Prefixes that only say "evaluation"; `test_` stays in the key, so a test-set
# value never lands in the same chart as the validation one.
EVAL_WORDS = re.compile(r"^(val|valid|validation|eval|dev)_", re.IGNORECASE)
_LOSS_NAME = re.compile(r"loss|err|nll", re.IGNORECASE)
_METRIC_NAME = re.compile(
    r"loss|err|acc|ppl|perplexity|f1|bleu|rouge|auc|score|precision|recall|mae|mse|"
    r"rmse|psnr|ssim|dice|iou|map|wer|cer|top\d|correct|lr|grad_norm|norm|mfu|"
    r"D_x|D_G|reward|return",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Metric:
    """A value to log: its key (without train/ or eval/) and the code for it."""

    key: str
    code: str


def is_report_call(call: cst.Call) -> bool:
    return bool(_REPORT_FUNCS.match(call_name(call) or ""))


@dataclass(frozen=True)
class Reported:
    """One value shown by a print or logger call, with what names it there."""

    keyword: str | None
    label: str | None
    expression: cst.BaseExpression


def reported_expressions(call: cst.Call) -> list[Reported]:
    """The values a print or logger call shows, with the keyword or text naming each."""
    found: list[Reported] = []
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.value not in ("end", "sep", "file", "flush", "refresh"):
                found.append(Reported(arg.keyword.value, None, arg.value))
        elif not arg.star:
            found.extend(_format_parts(arg.value))
    return found


def _format_parts(value: cst.BaseExpression) -> list[Reported]:
    if isinstance(value, cst.ConcatenatedString):
        return _format_parts(value.left) + _format_parts(value.right)
    if isinstance(value, cst.FormattedString):
        found: list[Reported] = []
        text = ""
        for part in value.parts:
            if isinstance(part, cst.FormattedStringText):
                text += part.value
            elif isinstance(part, cst.FormattedStringExpression):
                found.append(Reported(None, _label(text), part.expression))
                text = ""
        return found
    if isinstance(value, cst.Call) and method_name(value) == "format":
        template = receiver(value)
        if isinstance(template, cst.SimpleString):
            labels = _labels(template, r"\{[^{}]*\}")
            positional = [a for a in value.args if a.keyword is None and not a.star]
            found = [
                Reported(None, labels[i] if i < len(labels) else None, a.value)
                for i, a in enumerate(positional)
            ]
            found += [
                Reported(a.keyword.value, None, a.value)
                for a in value.args
                if a.keyword
            ]
            return found
    if isinstance(value, cst.BinaryOperation) and isinstance(
        value.operator, cst.Modulo
    ):
        if isinstance(value.left, cst.SimpleString):
            labels = _labels(value.left, r"%[-+ #0-9.]*[a-zA-Z]")
            right = value.right
            items = (
                [e.value for e in right.elements]
                if isinstance(right, cst.Tuple)
                else [right]
            )
            return [
                Reported(None, labels[i] if i < len(labels) else None, item)
                for i, item in enumerate(items)
            ]
    if isinstance(value, cst.Dict):
        return [
            Reported(_string_key(e.key), None, e.value)
            for e in value.elements
            if isinstance(e, cst.DictElement)
        ]
    if isinstance(value, cst.SimpleString | cst.ConcatenatedString):
        return []
    return [Reported(None, None, value)]


def _string_key(key: cst.BaseExpression) -> str | None:
    if isinstance(key, cst.SimpleString):
        text = key.evaluated_value
        return text if isinstance(text, str) else None
    return None


def _labels(template: cst.SimpleString, placeholder: str) -> list[str | None]:
    text = template.evaluated_value
    if not isinstance(text, str):
        return []
    pieces = re.split(placeholder, text.replace("%%", ""))
    return [_label(piece) for piece in pieces[:-1]]


_LABEL_WORDS = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)[^A-Za-z0-9]*$")
_PREFIX_WORDS = ("val", "valid", "validation", "test", "eval", "dev", "train", "best")


def _label(text: str) -> str | None:
    """The words just before a placeholder: `val loss` in "val loss {x}"."""
    match = _LABEL_WORDS.search(text)
    if match is None:
        return None
    word = match.group(1)
    before = text[: match.start()].rstrip(" :=|,-")
    previous = _LABEL_WORDS.search(before)
    if previous and previous.group(1).lower() in _PREFIX_WORDS:
        return f"{previous.group(1)}_{word}"
    return word


def metric_key(reported: Reported) -> str | None:
    """A key for a reported value: its keyword, its variable's name, or its label."""
    if reported.keyword:
        return _clean_key(reported.keyword)
    named = _name_key(reported.expression)
    label = _clean_key(reported.label) if reported.label else None
    if label and (named is None or not is_metric_name(named)) and is_metric_name(label):
        return label
    if named is None and label and not isinstance(reported.expression, cst.Name):
        return label
    return named


def _name_key(expression: cst.BaseExpression) -> str | None:
    base = expression
    while isinstance(base, cst.Call) and method_name(base) in (
        "item",
        "mean",
        "sum",
        "cpu",
        "detach",
        "float",
    ):
        inner = receiver(base)
        if inner is None:
            return None
        base = inner
    if isinstance(base, cst.Subscript) and len(base.slice) == 1:
        index = base.slice[0].slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString):
            text = index.value.evaluated_value
            owner = dotted(base.value)
            if isinstance(text, str) and owner:
                return _clean_key(f"{owner.rsplit('.', 1)[-1]}_{text}")
        return None
    name = dotted(base)
    return _clean_key(name.rsplit(".", 1)[-1]) if name else None


def _clean_key(text: str) -> str | None:
    key = re.sub(r"[^0-9A-Za-z_/]+", "_", text.strip()).strip("_")
    return key or None


def is_metric_name(key: str) -> bool:
    return bool(_METRIC_NAME.search(key) or EVAL_PREFIX.match(key))


def is_loss_name(key: str) -> bool:
    return bool(_LOSS_NAME.search(key))


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
