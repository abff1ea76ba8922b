"""What a script's own print and logger calls report, and a key for each value."""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from injector._matchers import call_name, dotted, method_name, receiver

_REPORT_FUNCS = re.compile(
    r"^((\w+\.)?(master_)?print|tqdm\.write|"
    r"(\w+\.)*(log(ger|ging)?|_?LOG(GER)?)\.(info|debug|warning)|"
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
