"""What a scan found: ranked candidates, ruled-out files and the figures of the walk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from injector.options import Role


@dataclass(frozen=True)
class Candidate:
    """A file to rewrite. An ENTRY links the files holding its loops (usually
    LOOP modules, or a SCRIPT whose loop it reuses); a LOOP links the entries
    that run it; a SCRIPT links nothing."""

    path: str
    score: int
    reasons: tuple[str, ...]
    role: Role
    links: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "score": self.score,
            "reasons": list(self.reasons),
            "role": self.role.value,
            "links": list(self.links),
        }


@dataclass(frozen=True)
class Excluded:
    """A file left alone, and why. A path ending in "/" is a folder skipped whole."""

    path: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class Scan:
    root: str
    candidates: list[Candidate]
    excluded: list[Excluded]
    files_seen: int
    files_parsed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "candidates": [c.to_json() for c in self.candidates],
            "excluded": [e.to_json() for e in self.excluded],
            "files_seen": self.files_seen,
            "files_parsed": self.files_parsed,
        }
