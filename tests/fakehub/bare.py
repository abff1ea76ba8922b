"""The bare git repositories behind the fake's repos, seeded and read with git."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Fixed identity and dates keep seeded commits reproducible and free of user config.
SEED_ENVIRONMENT = {
    "GIT_AUTHOR_NAME": "Octo Seed",
    "GIT_AUTHOR_EMAIL": "seed@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_NAME": "Octo Seed",
    "GIT_COMMITTER_EMAIL": "seed@example.com",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
# What the remote must allow for the bot's blobless shallow clone and its push.
SERVE_SETTINGS = {
    "http.receivepack": "true",
    "uploadpack.allowFilter": "true",
    "uploadpack.allowAnySHA1InWant": "true",
}


@dataclass(frozen=True)
class Entry:
    """One line of a tree listing."""

    mode: str
    kind: str
    sha: str
    size: int | None
    path: str


def git(
    folder: Path,
    *arguments: str,
    stdin: bytes | None = None,
    index: Path | None = None,
) -> bytes:
    # Variables a developer's git may export would point us at their repository.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    environment.update(SEED_ENVIRONMENT)
    if index:
        environment["GIT_INDEX_FILE"] = str(index)
    result = subprocess.run(
        ["git", "--git-dir", str(folder), *arguments],
        input=stdin,
        capture_output=True,
        env=environment,
        check=True,
    )
    return result.stdout


def create(folder: Path, files: dict[str, bytes | str] | None, branch: str) -> None:
    """A bare repository with `files` in one commit on `branch` (None: no commit),
    ready to serve."""
    subprocess.run(
        ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", folder],
        check=True,
        env={**os.environ, **SEED_ENVIRONMENT},
    )
    for key, value in SERVE_SETTINGS.items():
        git(folder, "config", key, value)
    if files is not None:
        commit_files(folder, branch, files, "Initial commit")


def commit_files(
    folder: Path, branch: str, files: dict[str, bytes | str], message: str
) -> str:
    """Commit `files` on top of `branch` (created when missing); its new sha."""
    parent = resolve(folder, f"refs/heads/{branch}")
    with tempfile.TemporaryDirectory() as scratch:
        index = Path(scratch) / "index"
        if parent:
            git(folder, "read-tree", parent, index=index)
        for path, data in files.items():
            raw = data.encode() if isinstance(data, str) else data
            blob = git(folder, "hash-object", "-w", "--stdin", stdin=raw)
            info = f"100644,{blob.decode().strip()},{path}"
            git(folder, "update-index", "--add", "--cacheinfo", info, index=index)
        tree = git(folder, "write-tree", index=index).decode().strip()
    parents = ["-p", parent] if parent else []
    commit = git(folder, "commit-tree", tree, *parents, "-m", message)
    sha = commit.decode().strip()
    git(folder, "update-ref", f"refs/heads/{branch}", sha)
    return sha


def resolve(folder: Path, revision: str) -> str | None:
    """The commit `revision` names, or None when there is none."""
    try:
        output = git(
            folder, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"
        )
    except subprocess.CalledProcessError:
        return None
    return output.decode().strip()


def count_ahead(folder: Path, base: str, head: str) -> int:
    """How many commits `head` has that `base` lacks."""
    output = git(folder, "rev-list", "--count", f"{base}..{head}")
    return int(output)


def read_blob(folder: Path, revision: str, path: str) -> tuple[str, bytes] | None:
    """The blob sha and bytes of `path` at `revision`, or None when no such file."""
    listing = tree(folder, revision, path, recursive=False)
    if len(listing) != 1 or listing[0].kind != "blob" or listing[0].path != path:
        return None
    return listing[0].sha, git(folder, "cat-file", "blob", listing[0].sha)


def tree(
    folder: Path, revision: str, path: str = "", *, recursive: bool
) -> list[Entry]:
    """The entries of a tree (or the one entry `path` names), with blob sizes."""
    options = ["-r", "-t"] if recursive else []
    try:
        # An empty pathspec matches nothing: the whole tree goes without one.
        named = ["--", path] if path else []
        output = git(folder, "ls-tree", "-z", "-l", *options, revision, *named)
    except subprocess.CalledProcessError:
        return []
    entries = []
    for line in output.decode().split("\0"):
        if line:
            info, name = line.split("\t", 1)
            mode, kind, sha, size = info.split()
            entries.append(
                Entry(mode, kind, sha, None if size == "-" else int(size), name)
            )
    return entries


def object_kind(folder: Path, sha: str) -> str | None:
    try:
        return git(folder, "cat-file", "-t", sha).decode().strip()
    except subprocess.CalledProcessError:
        return None
