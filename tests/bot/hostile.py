"""Hostile repositories on the fake's remote, and a watch on the job's clones."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fakehub import bare
from fakehub.state import Repo

import bot.flow
from bot.workspace import Remote, Workspace

FILE, EXECUTABLE, LINK, SUBMODULE = "100644", "100755", "120000", "160000"


@dataclass(frozen=True)
class Entry:
    """One tree entry: a file, a link (data is its target) or a gitlink (a sha)."""

    path: bytes | str
    data: bytes | str = b""
    mode: str = FILE


def commit_entries(repo: Repo, branch: str, entries: list[Entry]) -> str:
    """Commit `entries` on top of `branch`, with modes and paths `git add` refuses."""
    folder = repo.git_dir
    parent = bare.resolve(folder, f"refs/heads/{branch}")
    with tempfile.TemporaryDirectory() as scratch:
        shas = _write_blobs(folder, Path(scratch), entries)
        lines = [
            f"{entry.mode} {sha}\t".encode() + _raw(entry.path) + b"\0"
            for entry, sha in zip(entries, shas, strict=True)
        ]
        index = Path(scratch) / "index"
        if parent:
            bare.git(folder, "read-tree", parent, index=index)
        listing = b"".join(lines)
        bare.git(
            folder, "update-index", "-z", "--index-info", stdin=listing, index=index
        )
        tree = bare.git(folder, "write-tree", index=index).decode().strip()
    parents = ["-p", parent] if parent else []
    sha = bare.git(folder, "commit-tree", tree, *parents, "-m", "Hostile").decode()
    bare.git(folder, "update-ref", f"refs/heads/{branch}", sha.strip())
    return sha.strip()


def _write_blobs(folder: Path, scratch: Path, entries: list[Entry]) -> list[str]:
    """Each entry's object: its blob, written by one git for thousands of them."""
    files = []
    for number, entry in enumerate(entries):
        if entry.mode != SUBMODULE:
            files.append(scratch / f"blob{number}")
            files[-1].write_bytes(_raw(entry.data))
    paths = "".join(f"{file}\n" for file in files).encode()
    written = iter(
        bare.git(folder, "hash-object", "-w", "--stdin-paths", stdin=paths).split()
    )
    return [
        _raw(entry.data).decode() if entry.mode == SUBMODULE else next(written).decode()
        for entry in entries
    ]


def _raw(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


@dataclass
class Clone:
    """What one of the job's clones held just before it was removed."""

    holder: Path
    files: set[str]
    git_config: str


@dataclass
class Clones:
    """Every clone the flow made, seen from inside, and where they all lived."""

    temp: Path
    seen: list[Clone] = field(default_factory=list)

    def only(self) -> Clone:
        [clone] = self.seen
        return clone


@pytest.fixture
def clones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clones]:
    """Records each clone of the flow; fails if any outlives its job.

    The job's temporary folders go to a folder of the test's own, so that
    nothing left behind is missed among other processes' files.
    """
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    watched = Clones(temp)
    real_cloned = bot.flow.cloned

    @contextmanager
    def cloned(remote: Remote, base: str) -> Iterator[Workspace]:
        with real_cloned(remote, base) as workspace:
            try:
                yield workspace
            finally:
                watched.seen.append(_look_inside(workspace.tree))

    monkeypatch.setattr(bot.flow, "cloned", cloned)
    yield watched
    left = sorted(os.listdir(temp))
    assert left == [], f"the job left {left} behind"


def _look_inside(tree: Path) -> Clone:
    files = set()
    for folder, _folders, names in os.walk(tree):
        for name in names:
            files.add(os.path.relpath(os.path.join(folder, name), tree))
    config = (tree / ".git" / "config").read_text()
    return Clone(tree.parent, files, config)
