"""Scores and plain-words reasons from the evidence found in a file."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from injector.locate.clues import Clue, Kind

# Each kind of evidence counts once, however often it repeats.
TRAINING_WEIGHTS = {
    "backward": 40,
    "trainer": 40,
    "fit": 40,
    "cli": 40,
    "step": 30,
    "scaler": 30,
}
ENTRY_WEIGHT = 20
ARGUMENTS_WEIGHT = 10
LOOP_LINK_WEIGHT = 10
_NAMED_LIKE_TRAINING = re.compile(r"(train|finetune|fine_tune|pretrain|main).*\.py")
_NAME_WEIGHTS = {"main": 10}
NAME_WEIGHT = 15
_LINES_SHOWN = 3


@dataclass
class Evidence:
    """Reasons gathered for one file, and the score they add up to."""

    reasons: list[str] = field(default_factory=list)
    score: int = 0

    def add(self, reason: str, weight: int = 0) -> None:
        self.reasons.append(reason)
        self.score += weight

    def add_clues(self, clues: list[tuple[Clue, int]], kind: Kind) -> int:
        """Add the clues of `kind`, one reason per distinct text; their score."""
        lines_by_text: dict[str, list[int]] = {}
        keys: set[str] = set()
        for clue, line in clues:
            if clue.kind is kind:
                lines_by_text.setdefault(clue.text, []).append(line)
                keys.add(clue.key)
        for text, lines in lines_by_text.items():
            self.reasons.append(f"{text} ({lines_text(lines)})")
        if kind is Kind.TRAINING:
            gained = sum(TRAINING_WEIGHTS.get(key, 0) for key in keys)
        else:
            gained = ARGUMENTS_WEIGHT if keys and kind is Kind.ARGUMENTS else 0
        self.score += gained
        return gained

    def add_name(self, path: str) -> None:
        match = _NAMED_LIKE_TRAINING.fullmatch(posixpath.basename(path))
        if match:
            stem = match[1]
            self.add(f"named {stem}*.py", _NAME_WEIGHTS.get(stem, NAME_WEIGHT))


def lines_text(lines: list[int]) -> str:
    if len(lines) == 1:
        return f"line {lines[0]}"
    shown = ", ".join(map(str, lines[:_LINES_SHOWN]))
    more = ", ..." if len(lines) > _LINES_SHOWN else ""
    return f"lines {shown}{more}"


def training_score(clues: list[tuple[Clue, int]]) -> int:
    keys = {clue.key for clue, _ in clues if clue.kind is Kind.TRAINING}
    return sum(TRAINING_WEIGHTS.get(key, 0) for key in keys)
