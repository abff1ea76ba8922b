"""A shallow clone of one branch for a job, and the push of the job's commit."""

from __future__ import annotations

import base64
import ipaddress
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bot.repo_config import CONFIG_PATH
from bot.worktree import (
    GitError,
    Identity,
    commit_files,
    git,
    git_command,
    git_environment,
)

# Clone, checkout, fetch and push stop past these; any other git call past GIT_TIMEOUT.
NETWORK_TIMEOUT = 300.0
GIT_TIMEOUT = 60.0
MAX_CLONE_BYTES = 500 * 1024 * 1024
# The job reads only these; other files (data, weights) are never downloaded.
CHECKOUT_PATTERNS = ("*.py", "*.ipynb", f"/{CONFIG_PATH}")
# How often a long git call is checked against the size and time limits.
POLL_SECONDS = 0.1


class BranchTaken(GitError):
    """The bot's branch holds commits someone else made: it is theirs now."""


@dataclass(frozen=True)
class Remote:
    """Where the repository lives and the token that may push to it."""

    url: str
    token: str = field(repr=False)

    def environment(self) -> dict[str, str]:
        """Variables that give git the token as a header, for this host only.

        Unlike a token in the URL, they leave no trace in `.git/config` or argv.
        """
        parts = urlsplit(self.url)
        allowed = parts.scheme in ("https", "file") or (
            parts.scheme == "http" and _is_loopback(parts.hostname)
        )
        # Plain http would send the token in clear anywhere but this machine.
        if not allowed:
            raise GitError(f"refusing to use git over {parts.scheme or 'this URL'}")
        credentials = base64.b64encode(f"x-access-token:{self.token}".encode())
        return {
            # Submodules and redirects may not switch to ssh, ext:: and the like.
            "GIT_ALLOW_PROTOCOL": parts.scheme,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{parts.scheme}://{parts.netloc}/.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {credentials.decode()}",
        }


class Workspace:
    """The base branch, checked out in a temporary folder (see `cloned`)."""

    def __init__(self, tree: Path, remote: Remote, base: str) -> None:
        self.tree = tree
        self.base = base
        self._remote = remote
        self._environment = remote.environment()
        self.base_commit = self._git("rev-parse", "HEAD")

    def push(
        self, branch: str, paths: Sequence[str], message: str, identity: Identity
    ) -> str | None:
        """Commit `paths` as `identity` and push them to `branch` as a fast-forward.

        On a branch the bot pushed before, the commit goes on top of it. Returns
        the pushed commit, or None when the branch already holds this change.
        Raises BranchTaken when someone else committed on the branch.
        """
        commit = commit_files(self.tree, paths, message, identity)
        seen = self._remote_tip(branch)
        previous = self._bot_branch_tip(branch, identity) if seen else None
        if previous is not None:
            on_top = self._on_top(previous, commit, message, identity)
            if on_top is None:
                return None
            commit = on_top
        # The new commit holds the tip we saw, so the push is a fast-forward. A
        # shallow clone cannot prove that to git when the tip is a commit of the
        # base's history it never fetched; the lease replaces that check and
        # refuses the push if the branch moved since we looked.
        lease = f"--force-with-lease={_ref(branch)}:{seen or ''}"
        self._network(
            "push",
            "--quiet",
            "--no-verify",
            lease,
            "origin",
            f"{commit}:{_ref(branch)}",
        )
        return commit

    def _remote_tip(self, branch: str) -> str | None:
        listing = self._git("ls-remote", "--heads", "origin", _ref(branch))
        return listing.split()[0] if listing else None

    def _bot_branch_tip(self, branch: str, identity: Identity) -> str | None:
        """Fetch `branch`'s own commits (those not on the base); None if none."""
        tracking = f"refs/remotes/origin/{branch}"
        try:
            self._network(
                "fetch",
                "--quiet",
                "--no-tags",
                "--filter=blob:none",
                f"--shallow-exclude={_ref(self.base)}",
                "origin",
                f"+{_ref(branch)}:{tracking}",
            )
        except GitError as error:
            # git's way of saying every commit of the branch is also on the base.
            if "no commits selected" in error.output:
                return None
            raise
        authors = self._git(
            "log", "--format=%ae %ce", tracking, "--not", self.base_commit
        ).splitlines()
        expected = f"{identity.email} {identity.email}"
        if any(line != expected for line in authors):
            raise BranchTaken(f"the branch {branch!r} has commits not made by the bot")
        return self._git("rev-parse", tracking)

    def _on_top(
        self, previous: str, commit: str, message: str, identity: Identity
    ) -> str | None:
        """A commit of `commit`'s files whose parents make the push a fast-forward.

        When the base moved since `previous`, the base is a second parent, so the
        pull request shows only the bot's change.
        """
        tree = self._git("rev-parse", f"{commit}^{{tree}}")
        base_included = self.base_commit in self._outside_parents(previous)
        if base_included and tree == self._git("rev-parse", f"{previous}^{{tree}}"):
            return None
        parents = ["-p", previous]
        if not base_included:
            parents += ["-p", self.base_commit]
        return self._git(
            "commit-tree", tree, *parents, "-m", message, config=identity.config()
        )

    def _outside_parents(self, tip: str) -> set[str]:
        """Parents of the branch's own commits that are not among them.

        The base is an ancestor of `tip` exactly when it is one of these. The
        fetch stopped at the base's history, so git's own ancestry walk would
        end there; the commit objects still name their parents.
        """
        own = self._git("rev-list", tip, "--not", self.base_commit).split()
        parents: set[str] = set()
        for commit in own:
            header = self._git("cat-file", "commit", commit).partition("\n\n")[0]
            parents.update(
                line.split()[1]
                for line in header.splitlines()
                if line.startswith("parent ")
            )
        return parents - set(own)

    def _git(self, *args: str, config: Sequence[str] = ()) -> str:
        return git(
            self.tree,
            *args,
            config=config,
            environment=self._environment,
            timeout=GIT_TIMEOUT,
        )

    def _network(self, *args: str) -> None:
        _limited(self.tree, args, self._environment, watched=self.tree.parent)


@contextmanager
def cloned(
    remote: Remote, base: str, patterns: Sequence[str] | None = None
) -> Iterator[Workspace]:
    """A shallow, blobless clone of `base` with only the files the job reads,
    in a temporary folder removed afterwards, even on errors.

    `patterns` (sparse-checkout patterns) narrow the checkout further.
    """
    holder = Path(tempfile.mkdtemp(prefix="wandb-inject-clone-"))
    tree = holder / "tree"
    environment = remote.environment()
    try:
        clone = [
            "clone",
            *("--quiet", "--depth", "1", "--filter=blob:none", "--no-tags"),
            *("--single-branch", "--branch", base, "--no-checkout"),
            "--",
            remote.url,
            str(tree),
        ]
        _limited(holder, clone, environment, watched=holder)
        git(
            tree,
            "sparse-checkout",
            "set",
            "--no-cone",
            *CHECKOUT_PATTERNS,
            environment=environment,
            timeout=GIT_TIMEOUT,
        )
        if patterns is not None:
            # Thousands of patterns would overflow argv; git reads them from here.
            sparse = tree / ".git" / "info" / "sparse-checkout"
            sparse.write_text("".join(f"{pattern}\n" for pattern in patterns))
        # Reading the tree into the checkout downloads the blobs it needs.
        _limited(tree, ["read-tree", "-mu", "HEAD"], environment, watched=holder)
        yield Workspace(tree, remote, base)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _limited(
    repo: Path, args: Sequence[str], environment: dict[str, str], *, watched: Path
) -> None:
    """Run git, stopping it once `watched` outgrows MAX_CLONE_BYTES or it runs
    past NETWORK_TIMEOUT."""
    command = git_command(repo, *args)
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=git_environment(environment),
        )
        problem = _watch(process, watched)
        errors.seek(0)
        lines = errors.read().decode(errors="replace").strip().splitlines()
    if problem is None and process.returncode != 0:
        problem = f"failed: {lines[-1] if lines else f'exit {process.returncode}'}"
    if problem is not None:
        raise GitError(f"git {args[0]} {problem}", "\n".join(lines))


def _watch(process: subprocess.Popen[bytes], watched: Path) -> str | None:
    """Wait for `process`; kill it and say why when it breaks a limit."""
    deadline = time.monotonic() + NETWORK_TIMEOUT
    while process.poll() is None:
        if time.monotonic() > deadline:
            problem = f"took longer than {NETWORK_TIMEOUT:.0f} s"
        elif _size(watched) > MAX_CLONE_BYTES:
            problem = f"stopped: the clone is over {MAX_CLONE_BYTES >> 20} MB"
        else:
            # Returns as soon as git exits, rather than at the next tick.
            with suppress(subprocess.TimeoutExpired):
                process.wait(POLL_SECONDS)
            continue
        process.kill()
        process.wait()
        return problem
    # git may write a large file and exit between two looks.
    if _size(watched) > MAX_CLONE_BYTES:
        return f"stopped: the clone is over {MAX_CLONE_BYTES >> 20} MB"
    return None


def _size(folder: Path) -> int:
    total = 0
    for parent, _folders, files in os.walk(folder):
        for name in files:
            # git renames and deletes files while it works.
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except FileNotFoundError:
                continue
    return total


def _ref(branch: str) -> str:
    return f"refs/heads/{branch}"


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
