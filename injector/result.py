"""What the injector did to one file: the new source and a record of every change."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Point(StrEnum):
    """The places where tracking is added."""

    IMPORT = "import"
    INIT = "init"
    TRAIN_LOG = "train_log"
    EVAL_LOG = "eval_log"
    FINISH = "finish"
    INTEGRATION = "integration"


class Status(StrEnum):
    """How a file came out of the injector."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Insertion:
    """Inserted code, with the 1-based line it starts on in the new file."""

    point: Point
    line: int
    code: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "point": str(self.point),
            "line": self.line,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Omission:
    """A point that was left out, and why."""

    point: Point
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"point": str(self.point), "reason": self.reason}


@dataclass(frozen=True)
class ConfigInfo:
    """The configuration the run records: its kind, and the expression passed."""

    kind: str
    expression: str
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "expression": self.expression, "line": self.line}


@dataclass(frozen=True)
class DistributedInfo:
    """How a distributed script was kept to one run: mechanism, guard, evidence."""

    mechanism: str
    evidence_lines: tuple[int, ...]
    guard: str
    guard_form: str
    guard_line: int | None
    rejected: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "mechanism": self.mechanism,
            "evidence_lines": list(self.evidence_lines),
            "guard": self.guard,
            "guard_form": self.guard_form,
            "guard_line": self.guard_line,
            "rejected": [{"check": c, "reason": r} for c, r in self.rejected],
        }


@dataclass
class FileReport:
    """The outcome for one file.

    `new_source` equals `source` unless the status is CHANGED. `source` is kept as
    the exact bytes that were read, so nothing is lost when a file is skipped.
    """

    path: str
    status: Status
    source: bytes
    new_source: bytes
    reason: str = ""
    config: ConfigInfo | None = None
    insertions: list[Insertion] = field(default_factory=list)
    omissions: list[Omission] = field(default_factory=list)
    distributed: DistributedInfo | None = None
    framework: str | None = None

    @property
    def changed(self) -> bool:
        return self.status is Status.CHANGED

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": str(self.status),
            "reason": self.reason,
            "config": self.config.to_json() if self.config else None,
            "insertions": [i.to_json() for i in self.insertions],
            "omissions": [o.to_json() for o in self.omissions],
            "framework": self.framework,
            "distributed": self.distributed.to_json() if self.distributed else None,
        }
