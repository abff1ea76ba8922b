"""Evidence read from a file's bytes: training calls, argument parsing, inference."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# The byte prefilter: which files may hold training code. Every marker ends in
# an open parenthesis, so the pattern starts with that one literal and sre
# scans for it at memchr speed; an alternation of words would fall back to a
# per-byte character-set test, several times slower (bench/bench_locate.py).
# The markers' last letters, tested first, turn most parentheses away at once.
PREFILTER = re.compile(
    rb"\((?<=[dptnrI]\()"
    rb"(?:(?<=backward\()|(?<=\.step\()|(?<=\.fit\()|(?<=\.train\()"
    rb"|(?<=scaler\()|(?<=LightningCLI\())"
)
# The main guard, tested as a plain substring beside PREFILTER for the same
# reason: it has no parenthesis to anchor on.
MAIN_MARKER = b"__main__"
# The same markers for `grep -E`, so the benchmark compares like with like.
GREP_PATTERN = r"backward\(|\.step\(|\.fit\(|\.train\(|scaler\(|LightningCLI\(|__main__"

# Anchored on the open parenthesis like PREFILTER, for the same speed, and
# with the same first test of the words' last letters.
_CLUES = re.compile(
    rb"\((?<=[dptnlerI]\()(?:"
    rb"(?<=\.(?P<backward>backward)\()|(?<=\.(?P<step>step)\()|(?<=\.(?P<fit>fit)\()"
    rb"|(?<=\.(?P<train>train)\()|(?<=\.(?P<eval>eval)\()"
    rb"|(?<=\.(?P<predict>predict)\()|(?<=\.(?P<generate>generate)\()"
    rb"|(?<=(?P<scaler>scaler)\()|(?<=(?P<cli>LightningCLI)\()"
    rb"|(?<=(?P<parser>ArgumentParser)\()|(?<=(?P<no_grad>no_grad)\()"
    rb"|(?<=(?P<inference_mode>inference_mode)\()"
    rb"|(?<=(?P<load_state_dict>load_state_dict)\()|(?<=(?P<fire>Fire)\()"
    rb"|(?<=@(?P<hydra>hydra\.main)\()|(?<=@(?P<click>click\.command)\()"
    rb"|(?<=(?P<omegaconf>OmegaConf)\.load\()|(?<=(?P<merge>OmegaConf)\.merge\()"
    rb")"
)
_METHODS = frozenset(
    {"backward", "step", "fit", "train", "eval", "predict", "generate"}
)
_DECORATORS = frozenset({"hydra", "click"})
_LOSS_AND_OPTIMIZER = re.compile(rb"\s*\w*loss\w*\s*,\s*[\w.]*opt", re.IGNORECASE)
# A dotted name before a call or attribute, with one call inside it at most:
# `loss`, `self.optimizer`, `scaler.scale(loss)`, `Trainer(model, args)`.
_RECEIVER = re.compile(rb"(?:[\w.]*\([^()\n]*\)|[\w.]*)$")
_LINE_START_WINDOW = 200


class Kind(StrEnum):
    """What a clue is evidence of."""

    TRAINING = "training"
    ARGUMENTS = "arguments"
    INFERENCE = "inference"


@dataclass(frozen=True)
class Clue:
    kind: Kind
    # Plain words, without the line: "calls loss.backward()".
    text: str
    # Groups repeats of one piece of evidence: "backward", "step", "fit".
    key: str
    position: int


def find_clues(data: bytes) -> list[Clue]:
    """Every clue in the file, in order, leaving out those in comments."""
    clues = []
    for match in _CLUES.finditer(data):
        clue = _clue(data, match)
        if clue is not None and not _in_comment(data, match.start()):
            clues.append(clue)
    return clues


def first_training_clue(data: bytes) -> Clue | None:
    """The first training clue outside comments, found through the prefilter's
    cheap matches rather than a scan for every kind of clue."""
    for marker in PREFILTER.finditer(data):
        match = _CLUES.match(data, marker.start())
        if match is None or _in_comment(data, match.start()):
            continue
        clue = _clue(data, match)
        if clue is not None and clue.kind is Kind.TRAINING:
            return clue
    return None


def _clue(data: bytes, match: re.Match[bytes]) -> Clue | None:
    group = match.lastgroup or ""
    word = (match[group] or b"").decode()
    start = match.start() - len(word)
    if group in _METHODS:
        return _method_clue(word, _receiver(data, start - 1), start)
    if group in _DECORATORS:
        return Clue(Kind.ARGUMENTS, f"uses @{word}", "decorator", start)
    if word == "OmegaConf":
        return Clue(
            Kind.ARGUMENTS, "reads its config with OmegaConf", "omegaconf", start
        )
    name = _receiver(data, start) + word
    return _call_clue(name, data, match.end(), start)


def _method_clue(method: str, receiver: str, start: int) -> Clue | None:
    called = f"calls {receiver}.{method}()"
    last = receiver.rsplit(".", 1)[-1].lower()
    if method == "backward" and receiver:
        return Clue(Kind.TRAINING, called, "backward", start)
    # An optimizer, a DeepSpeed engine or a gradient scaler; not a scheduler.
    if method == "step" and ("opt" in last or "engine" in last or "scaler" in last):
        return Clue(Kind.TRAINING, called, "step", start)
    if method == "train" and "trainer" in last:
        return Clue(Kind.TRAINING, called, "trainer", start)
    # A fitted preprocessor is not a trained model.
    if method == "fit" and receiver and "scaler" not in last:
        return Clue(Kind.TRAINING, called, "fit", start)
    if method in {"eval", "predict", "generate"} and receiver:
        return Clue(Kind.INFERENCE, called, method, start)
    return None


def _call_clue(name: str, data: bytes, end: int, start: int) -> Clue | None:
    if name.endswith("scaler"):
        # A loss scaler that runs backward and step itself: `scaler(loss, opt)`.
        if _LOSS_AND_OPTIMIZER.match(data, end):
            return Clue(
                Kind.TRAINING, f"calls {name}(loss, optimizer)", "scaler", start
            )
        return None
    if name.endswith("LightningCLI"):
        return Clue(Kind.TRAINING, f"runs {name}()", "cli", start)
    if name.endswith("ArgumentParser"):
        return Clue(Kind.ARGUMENTS, f"parses arguments with {name}", "parser", start)
    if name == "fire.Fire":
        return Clue(Kind.ARGUMENTS, "parses arguments with fire.Fire", "fire", start)
    if name.endswith(("no_grad", "inference_mode", "load_state_dict")):
        return Clue(Kind.INFERENCE, f"calls {name}()", name, start)
    return None


def _receiver(data: bytes, end: int) -> str:
    window = data[max(0, end - _LINE_START_WINDOW) : end]
    window = window.rsplit(b"\n", 1)[-1]
    match = _RECEIVER.search(window)
    return match[0].decode("utf-8", "replace").lstrip(".") if match else ""


def _in_comment(data: bytes, position: int) -> bool:
    line_start = data.rfind(b"\n", 0, position) + 1
    return b"#" in data[line_start:position]


def line_numbers(data: bytes, positions: list[int]) -> list[int]:
    """1-based line of each position; `positions` must be sorted."""
    lines, line, previous = [], 1, 0
    for position in positions:
        line += data.count(b"\n", previous, position)
        previous = position
        lines.append(line)
    return lines


def is_training(clues: list[Clue]) -> bool:
    return any(clue.kind is Kind.TRAINING for clue in clues)
