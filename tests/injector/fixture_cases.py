"""The before/after fixture cases: where they live and what each expects."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Case:
    folder: Path

    @property
    def id(self) -> str:
        return self.folder.relative_to(FIXTURES).as_posix()

    @property
    def before(self) -> bytes:
        return (self.folder / "before.py").read_bytes()

    @property
    def after_path(self) -> Path:
        return self.folder / "after.py"

    @property
    def expect(self) -> dict[str, Any]:
        return json.loads((self.folder / "expect.json").read_text())

    @property
    def python_below(self) -> str | None:
        below: str | None = self.expect.get("python_below")
        return below

    @property
    def applies(self) -> bool:
        """Whether this Python reads the file as the expectations assume."""
        below = self.python_below
        return below is None or sys.version_info < tuple(map(int, below.split(".")))


def all_cases() -> list[Case]:
    return [Case(p.parent) for p in sorted(FIXTURES.glob("*/*/before.py"))]


def case_params() -> list[Any]:
    """Every case as a pytest param; a case whose expectations hold only below
    some Python version (its grammar grew) is skipped from that version on."""
    params = []
    for case in all_cases():
        reason = f"expectations written for Python below {case.python_below}"
        marks = [] if case.applies else [pytest.mark.skip(reason=reason)]
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def logged_value(code: str, key: str) -> str | None:
    """The expression logged under `key` in inserted wandb.log code."""
    match = re.search(rf'"{re.escape(key)}": (.+?)(?:,\n|, "|}}|,$)', code)
    return match.group(1).strip() if match else None


def step_value(code: str) -> str | None:
    match = re.search(r"step=(.+?)(?:,?\n|\)$)", code)
    return match.group(1).strip().rstrip(",").rstrip(")") if match else None
