"""Sorting walked files into entries, loops and ruled-out files, parsing little."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from injector.locate.clues import (
    Clue,
    Kind,
    find_clues,
    first_training_clue,
    line_numbers,
)
from injector.locate.facts import Facts, Use
from injector.locate.modules import Modules, console_scripts
from injector.locate.prefilter import MAIN, TRAINING, read_marked
from injector.locate.project import Project, read_bytes
from injector.locate.ranking import (
    ENTRY_WEIGHT,
    LOOP_LINK_WEIGHT,
    Evidence,
    lines_text,
    training_score,
)
from injector.locate.report import Candidate, Excluded
from injector.locate.walk import Found, Walk
from injector.options import Role

NOTEBOOK = "a notebook: reported, not rewritten"
INFERENCE_ONLY = "inference only: no backward or optimizer step"


@dataclass
class _Entry:
    path: str
    facts: Facts
    # What makes it an entry point: a main block, a console script, __main__.py.
    reasons: list[str]
    # Its bytes matched the prefilter: training-shaped, even if it does not train.
    marked: bool

    @property
    def clues(self) -> list[tuple[Clue, int]]:
        return _located(self.facts)


class Survey:
    """One pass over the walked files, then one decision per file."""

    def __init__(self, walked: Walk) -> None:
        self.walked = walked
        python = {
            f.path: f.full for f in walked.files if f.rule is None and not f.is_notebook
        }
        self.project = Project(Modules(python), python)
        self.scripts = console_scripts(walked.configs, self.project.modules)
        self.excluded = [Excluded(path, reason) for path, reason in walked.pruned]
        self.entries: list[_Entry] = []
        # Files that are not entry points but matched the prefilter.
        self.marked: dict[str, bytes] = {}

    def run(self) -> tuple[list[Candidate], list[Excluded]]:
        for found in self.walked.files:
            if found.is_notebook:
                if found.rule is None:
                    self.excluded.append(Excluded(found.path, NOTEBOOK))
                continue
            # The loop most files end in, kept lean: a read and a test in C.
            try:
                flags, data = read_marked(found.full)
            except OSError as error:
                self._unreadable(found.path, error)
                continue
            if data is not None or self._may_be_declared(found.path):
                self._sort(found, flags, data)
        candidates = self._decide()
        self.excluded.extend(Excluded(p, r) for p, r in self.project.broken.items())
        return candidates, self.excluded

    def _sort(self, found: Found, flags: int, data: bytes | None) -> None:
        if data is None:
            try:
                data = read_bytes(found.full)
            except OSError as error:
                self._unreadable(found.path, error)
                return
        marked = bool(flags & TRAINING)
        if found.rule is not None:
            if marked and first_training_clue(data):
                self.excluded.append(Excluded(found.path, found.rule))
            return
        if self._sort_entry(found.path, data, flags) or not marked:
            return
        self.marked[found.path] = data

    def _unreadable(self, path: str, error: OSError) -> None:
        reason = f"cannot be read: {error.strerror or error}"
        self.excluded.append(Excluded(path, reason))

    def _sort_entry(self, path: str, data: bytes, flags: int) -> bool:
        """Parse and keep the file if it is an entry point; whether it was parsed."""
        # The cheap tests first: most files are none of these.
        if not (flags & MAIN or self._may_be_declared(path)):
            return False
        reasons = self._declared_entry(path)
        marked = bool(flags & TRAINING)
        if not (reasons or marked or self.project.modules.imports_local(path, data)):
            # A main block with no training marker and nothing of the repository
            # to train through: judged on its bytes, since parsing it cannot
            # make it a candidate.
            clues = find_clues(data)
            lines = line_numbers(data, [c.position for c in clues])
            located = zip(clues, lines, strict=True)
            self._rule_out_inference(path, list(located), marked)
            return True
        facts = self.project.read(path, data)
        if facts is None:
            return True
        if facts.main_line is not None:
            guard = 'has an if __name__ == "__main__" block'
            reasons.insert(0, f"{guard} (line {facts.main_line})")
        if reasons:
            self.entries.append(_Entry(path, facts, reasons, marked))
        elif marked:
            self.marked[path] = data
        return True

    def _may_be_declared(self, path: str) -> bool:
        return path in self.scripts or path.endswith("__main__.py")

    def _declared_entry(self, path: str) -> list[str]:
        if path in self.scripts:
            return [self.scripts[path]]
        if posixpath.basename(path) == "__main__.py":
            package = posixpath.dirname(path).replace("/", ".") or "."
            return [f"runs as python -m {package} (__main__.py)"]
        return []

    def _decide(self) -> list[Candidate]:
        loops = {e.path: self.project.loops_used_by(e.path) for e in self.entries}
        users: dict[str, list[str]] = {}
        for entry_path, used in loops.items():
            for loop in used:
                users.setdefault(loop, []).append(entry_path)
        candidates = []
        for entry in self.entries:
            candidate = self._entry(entry, loops[entry.path], users.get(entry.path))
            if candidate is not None:
                candidates.append(candidate)
        entry_paths = set(loops)
        for loop, loop_users in users.items():
            if loop not in entry_paths:
                candidates.append(self._loop(loop, loop_users))
        for path, data in self.marked.items():
            if path not in users:
                self._rule_out_library(path, data)
        return candidates

    def _entry(
        self, entry: _Entry, loops: dict[str, Use | None], users: list[str] | None
    ) -> Candidate | None:
        evidence = Evidence()
        links: tuple[str, ...] = ()
        if evidence.add_clues(entry.clues, Kind.TRAINING):
            role = Role.SCRIPT
            for loop, use in loops.items():
                evidence.add(f"also uses the loop in {loop}{_via(use)}")
        elif loops:
            role, links = Role.ENTRY, tuple(sorted(loops))
            for loop in links:
                evidence.add(f"trains through {loop}{_via(loops[loop])}")
            evidence.score += max(map(self._loop_score, links))
        else:
            self._rule_out_inference(entry.path, entry.clues, entry.marked)
            return None
        if users:
            evidence.add(f"its loop is also used by {', '.join(sorted(users))}")
        evidence.add(entry.reasons[0], ENTRY_WEIGHT)
        for reason in entry.reasons[1:]:
            evidence.add(reason)
        evidence.add_clues(entry.clues, Kind.ARGUMENTS)
        evidence.add_name(entry.path)
        reasons = tuple(evidence.reasons)
        return Candidate(entry.path, evidence.score, reasons, role, links)

    def _loop(self, path: str, users: list[str]) -> Candidate:
        evidence = Evidence()
        evidence.add_clues(_located(self.project.facts[path]), Kind.TRAINING)
        runners = ", ".join(sorted(users))
        evidence.add(f"imported for its loop by {runners}", LOOP_LINK_WEIGHT)
        evidence.add_name(path)
        reasons = tuple(evidence.reasons)
        return Candidate(path, evidence.score, reasons, Role.LOOP, tuple(sorted(users)))

    def _loop_score(self, path: str) -> int:
        return training_score(_located(self.project.facts[path]))

    def _rule_out_inference(
        self, path: str, clues: list[tuple[Clue, int]], marked: bool
    ) -> None:
        inference = [(c, n) for c, n in clues if c.kind is Kind.INFERENCE]
        trainers = sorted(
            module
            for module, importers in self.project.importers.items()
            if path in importers and module in self.marked
        )
        if inference:
            clue, line = inference[0]
            detail = f"; {clue.text} ({lines_text([line])})"
        elif trainers:
            detail = f"; imports {', '.join(trainers)}, but not its training code"
        elif marked:
            detail = ""
        else:
            # A plain command-line tool, not a model script: nothing to report.
            return
        self.excluded.append(Excluded(path, INFERENCE_ONLY + detail))

    def _rule_out_library(self, path: str, data: bytes) -> None:
        clue = first_training_clue(data)
        if clue is None:
            return
        importers = self.project.importers.get(path)
        if importers:
            reason = f"only imported, by {', '.join(sorted(importers))}"
        else:
            line = line_numbers(data, [clue.position])[0]
            reason = (
                f"a library: {clue.text} (line {line}), but no entry point imports it"
            )
        self.excluded.append(Excluded(path, reason))


def _located(facts: Facts) -> list[tuple[Clue, int]]:
    return list(zip(facts.clues, facts.clue_lines, strict=True))


def _via(use: Use | None) -> str:
    if use is None:
        return " (star import)"
    name = f"{use.binding}.{use.attribute}" if use.attribute else use.binding
    return f": uses {name} (line {use.line})"
