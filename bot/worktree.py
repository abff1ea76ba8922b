"""Git for the local job: the base, a throwaway worktree, a commit on a new branch."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BOT_NAME = "wandb-inject[bot]"
BOT_EMAIL = "wandb-inject[bot]@users.noreply.github.com"
# Repositories are untrusted: no hook of theirs may run, whatever their config says.
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


class GitError(Exception):
    """A git step that failed or was refused, with a one-line reason.

    `output` keeps all that git printed, for callers that tell failures apart.
    """

    def __init__(self, reason: str, output: str = "") -> None:
        super().__init__(reason)
        self.output = output


@dataclass(frozen=True)
class Identity:
    """Who the bot's commits are by."""

    name: str
    email: str

    def config(self) -> list[str]:
        """`-c` settings that make this identity author and commit, unsigned."""
        # author.* and committer.* outrank user.*: a user's own would claim the commit.
        settings = [
            f"{role}.{field}={value}"
            for role in ("user", "author", "committer")
            for field, value in (("name", self.name), ("email", self.email))
        ]
        # The bot's commit must not be signed with the user's key, nor wait on a prompt.
        return [*settings, "commit.gpgSign=false"]


LOCAL_BOT = Identity(BOT_NAME, BOT_EMAIL)


def repository_root(path: Path) -> Path:
    """The top folder of the repository holding `path`."""
    if not path.is_dir():
        raise GitError(f"not a folder: {path}")
    try:
        return Path(git(path, "rev-parse", "--show-toplevel"))
    except GitError as error:
        raise GitError(f"not a git repository: {path}") from error


def current_branch(repo: Path) -> str:
    try:
        return git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
    except GitError as error:
        raise GitError("HEAD is not on a branch; name the base with --base") from error


def resolve_commit(repo: Path, revision: str) -> str:
    """The full hash of the commit `revision` names."""
    # Without this, a name like "--output=x" would be read as an option.
    if revision.startswith("-"):
        raise GitError(f"no such base: {revision!r}")
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except GitError as error:
        raise GitError(f"no such base: {revision!r}") from error


def check_new_branch(repo: Path, name: str) -> None:
    """Refuse a name git would not accept as a branch, or a branch that exists."""
    if name.startswith("-"):
        raise GitError(f"not a valid branch name: {name!r}")
    try:
        git(repo, "check-ref-format", "--branch", name)
    except GitError as error:
        raise GitError(f"not a valid branch name: {name!r}") from error
    if _succeeds(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}"):
        raise GitError(f"branch {name!r} already exists; name another with --branch")


@contextmanager
def temporary_worktree(repo: Path, commit: str) -> Iterator[Path]:
    """A detached checkout of `commit` outside the repository, removed afterwards.

    The user's working tree, index and current branch are never touched, and
    their uncommitted changes are never read.
    """
    holder = Path(tempfile.mkdtemp(prefix="wandb-inject-"))
    tree = holder / "tree"
    try:
        git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        yield tree
    finally:
        _succeeds(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(holder, ignore_errors=True)
        # Drops the worktree's record if `remove` failed and the folder went anyway.
        _succeeds(repo, "worktree", "prune")


def commit_files(
    tree: Path, paths: Sequence[str], message: str, identity: Identity = LOCAL_BOT
) -> str:
    """Commit `paths` of the worktree as `identity`; return the new commit's hash."""
    git(tree, "add", "--", *paths)
    settings = identity.config()
    git(tree, "commit", "--no-verify", "--quiet", "--message", message, config=settings)
    return git(tree, "rev-parse", "HEAD")


def create_branch(repo: Path, name: str, commit: str) -> None:
    """Point the new branch `name` at `commit`; fails if it appeared meanwhile."""
    # An empty old value tells git the ref must not exist yet.
    git(repo, "update-ref", "-m", "wandb-inject", f"refs/heads/{name}", commit, "")


def git(
    repo: Path,
    *args: str,
    config: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> str:
    """Run git in `repo` and return its output; GitError when it fails or times out.

    `environment` adds variables to the cleaned one (see git_environment).
    """
    command = git_command(repo, *args, config=config)
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=git_environment(environment),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise GitError(f"git {args[0]} took longer than {timeout:.0f} s") from error
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines() or [
            f"exit {completed.returncode}"
        ]
        raise GitError(f"git {args[0]} failed: {lines[-1]}")
    return completed.stdout.strip()


def _succeeds(repo: Path, *args: str) -> bool:
    try:
        git(repo, *args)
    except GitError:
        return False
    return True


def git_command(repo: Path, *args: str, config: Sequence[str] = ()) -> list[str]:
    """The argv that runs git in `repo` with hooks off and `config` settings."""
    settings = [part for setting in config for part in ("-c", setting)]
    return ["git", "-C", str(repo), *NO_HOOKS, *settings, *args]


def git_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without inherited GIT_* variables, plus `extra`."""
    # GIT_DIR, GIT_INDEX_FILE or GIT_AUTHOR_NAME inherited from a calling hook or
    # shell would point git elsewhere or override the bot's identity.
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("GIT_")
    }
    environment["GIT_TERMINAL_PROMPT"] = "0"
    return environment | dict(extra or {})
