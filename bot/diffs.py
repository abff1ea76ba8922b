"""Unified diffs of rewritten scripts, colored for terminals."""

from __future__ import annotations

import difflib
import io
import tokenize
from collections.abc import Iterable, Mapping
from typing import TextIO

RED = "\x1b[31m"
GREEN = "\x1b[32m"
CYAN = "\x1b[36m"
BOLD = "\x1b[1m"
RESET = "\x1b[0m"

NO_NEWLINE_MARKER = "\\ No newline at end of file\n"


def should_color(choice: str, stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether to color: always, never, or auto (a terminal and no NO_COLOR)."""
    if choice != "auto":
        return choice == "always"
    # NO_COLOR counts only when set to something non-empty (no-color.org).
    return stream.isatty() and not environ.get("NO_COLOR")


def unified_diff(path: str, old: bytes, new: bytes, *, color: bool = False) -> str:
    """A diff from `old` to `new`, decoded with the script's own source encoding."""
    encoding = source_encoding(old)
    old_lines = _split_lines(old.decode(encoding, errors="replace"))
    new_lines = _split_lines(new.decode(encoding, errors="replace"))
    lines = difflib.unified_diff(old_lines, new_lines, f"a/{path}", f"b/{path}")
    return "".join(_colored(line, color) for line in _terminated(lines))


def source_encoding(source: bytes) -> str:
    """The encoding Python itself would read `source` with (cookie or BOM)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError:
        return "utf-8"
    return encoding


def _split_lines(text: str) -> list[str]:
    # Only the line ends Python's tokenizer knows; str.splitlines also breaks on
    # form feeds and other separators that can sit inside a source line.
    return io.StringIO(text, newline="").readlines()


def _terminated(lines: Iterable[str]) -> Iterable[str]:
    # A last line without a newline would run into the next diff line.
    for line in lines:
        if line.endswith(("\n", "\r")):
            yield line
        else:
            yield line + "\n"
            yield NO_NEWLINE_MARKER


def _colored(line: str, color: bool) -> str:
    if not color:
        return line
    if line.startswith(("+++", "---")):
        prefix = BOLD
    elif line.startswith("@@"):
        prefix = CYAN
    elif line.startswith("+"):
        prefix = GREEN
    elif line.startswith("-"):
        prefix = RED
    else:
        return line
    body = line.rstrip("\r\n")
    return f"{prefix}{body}{RESET}{line[len(body) :]}"
