"""What one read module defines, imports and uses, and where its clues sit."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from injector.locate.clues import Clue, find_clues, line_numbers
from injector.locate.outline import ALL_NAMES, Binding, read_outline
from injector.locate.tree import parse_outline


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


def read_facts(data: bytes, path: str, is_local: Callable[[Binding], bool]) -> Facts:
    """Read from the bytes; a file the byte outline cannot vouch for is parsed
    (raises SyntaxError, ValueError, RecursionError, MemoryError). Uses are
    collected for the bindings `is_local` accepts: only those lead to loops."""
    outline = read_outline(data) or parse_outline(data, path)
    clues = find_clues(data)
    facts = Facts(
        clues,
        line_numbers(data, [c.position for c in clues]),
        outline.units,
        outline.main_line,
        outline.bindings,
    )
    local = [
        name
        for name, binding in outline.bindings.items()
        if name != ALL_NAMES and is_local(binding)
    ]
    if local:
        _collect_uses(data, facts, local, outline.import_lines)
    return facts


def _collect_uses(
    data: bytes, facts: Facts, names: list[str], import_lines: set[int]
) -> None:
    # Longest first, so `a.b` wins over `a`.
    names = sorted(names, key=len, reverse=True)
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
