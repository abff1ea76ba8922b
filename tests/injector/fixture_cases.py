"""The before/after fixture cases: where they live and what each expects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def all_cases() -> list[Case]:
    return [Case(p.parent) for p in sorted(FIXTURES.glob("*/*/before.py"))]


def logged_value(code: str, key: str) -> str | None:
    """The expression logged under `key` in inserted wandb.log code."""
    match = re.search(rf'"{re.escape(key)}": (.+?)(?:,\n|, "|}}|,$)', code)
    return match.group(1).strip() if match else None


def step_value(code: str) -> str | None:
    match = re.search(r"step=(.+?)(?:,?\n|\)$)", code)
    return match.group(1).strip().rstrip(",").rstrip(")") if match else None
