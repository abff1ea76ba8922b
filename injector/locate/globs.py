"""Gitignore-style include and exclude globs, matched against paths under the root."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class Glob:
    """One pattern: `*` stays inside a folder, `**` crosses folders, and a pattern
    without a slash matches at any depth. A pattern that matches a folder matches
    everything below it."""

    pattern: str
    regex: re.Pattern[str]
    segments: tuple[str, ...]
    anchored: bool

    @classmethod
    def parse(cls, pattern: str) -> Glob:
        # A slash at the start or in the middle anchors the pattern to the root.
        anchored = "/" in pattern.strip().rstrip("/")
        body = pattern.strip().strip("/")
        prefix = "" if anchored else "(?:.*/)?"
        regex = re.compile(f"{prefix}{_translate(body)}(?:/.*)?")
        return cls(pattern, regex, tuple(body.split("/")), anchored)

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None

    def may_match_below(self, folder: str) -> bool:
        """Whether some path under `folder` could match, by its leading segments."""
        if not self.anchored:
            return True
        for segment, pattern in zip(folder.split("/"), self.segments, strict=False):
            if pattern == "**":
                return True
            if not fnmatchcase(segment, pattern):
                return False
        return True


def _translate(body: str) -> str:
    parts = re.split(r"(\*\*/|/\*\*$|\*\*|\*|\?|\[[^\]/]*\])", body)
    replacements = {"**/": "(?:.*/)?", "/**": "(?:/.*)?", "**": ".*", "*": "[^/]*"}
    out = []
    for part in parts:
        if part in replacements:
            out.append(replacements[part])
        elif part == "?":
            out.append("[^/]")
        elif part.startswith("[") and len(part) > 2:
            # Gitignore negates a class with `!`, regular expressions with `^`.
            out.append("[^" + part[2:] if part[1] == "!" else part)
        else:
            out.append(re.escape(part))
    return "".join(out)


@dataclass(frozen=True)
class Scope:
    """Which paths the caller asked for: empty `include` means all of them."""

    include: tuple[Glob, ...]
    exclude: tuple[Glob, ...]

    @classmethod
    def parse(cls, include: Sequence[str], exclude: Sequence[str]) -> Scope:
        return cls(
            tuple(Glob.parse(p) for p in include if p.strip()),
            tuple(Glob.parse(p) for p in exclude if p.strip()),
        )

    def excluded_by(self, path: str) -> str | None:
        """The exclude pattern that matches `path`, if one does."""
        for glob in self.exclude:
            if glob.matches(path):
                return glob.pattern
        return None

    def includes(self, path: str) -> bool:
        return not self.include or any(g.matches(path) for g in self.include)

    def may_include_below(self, folder: str) -> bool:
        return not self.include or any(
            g.matches(folder) or g.may_match_below(folder) for g in self.include
        )
