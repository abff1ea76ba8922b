"""Find a repository's training entry points and the modules holding their loops."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from injector.locate.globs import Scope
from injector.locate.report import Candidate, Excluded, Scan
from injector.locate.survey import Survey
from injector.locate.walk import walk

__all__ = ["Candidate", "Excluded", "Scan", "locate"]


def locate(
    root: Path, *, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Scan:
    """Rank the files under `root` that train, by static reading only.

    include/exclude are gitignore-style globs relative to root ('src/**',
    '**/legacy/*.py'); empty include = everything. Nothing is imported or run,
    symlinks leading out of root are not followed, and no file makes it raise.
    """
    resolved = os.path.realpath(root)
    walked = walk(resolved, Scope.parse(include, exclude))
    survey = Survey(walked)
    candidates, excluded = survey.run()
    candidates.sort(key=lambda c: (-c.score, c.path))
    excluded.sort(key=lambda e: e.path)
    return Scan(
        str(root), candidates, excluded, len(walked.files), survey.project.parsed
    )
