"""The dashboard issue's text: the scripts a scan found, each with a box to tick."""

from __future__ import annotations

import re
from collections.abc import Iterable

MARKER = "<!-- wandb-inject dashboard -->"
TITLE = "W&B tracking: training scripts found"
INTRO = (
    "A scan found these training scripts without W&B tracking. Tick a script "
    "and I will open a pull request that adds it; scripts ticked later join "
    "the same pull request."
)
_BOX = re.compile(r"^- \[(?P<mark>[ xX])\] `(?P<path>[^`\n]+)`$", re.MULTILINE)


def render(paths: Iterable[str], ticked: Iterable[str] = ()) -> str:
    """The issue body; boxes already ticked stay ticked."""
    kept = set(ticked)
    lines = [
        f"- [{'x' if path in kept else ' '}] `{path}`"
        for path in paths
        if "`" not in path and "\n" not in path
    ]
    return "\n".join([MARKER, INTRO, "", *lines, ""])


def ticked(body: str) -> tuple[str, ...]:
    """The paths whose boxes are ticked, in the issue's order."""
    return tuple(
        found["path"] for found in _BOX.finditer(body) if found["mark"] in "xX"
    )


def is_dashboard(body: str) -> bool:
    return body.startswith(MARKER)
