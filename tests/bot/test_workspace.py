"""The job's clone and push, on bare repositories served over file://."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
from gitrepos import EXAMPLE, MakeRepo, Repo

import bot.workspace
from bot.workspace import BranchTaken, Remote, Workspace, cloned
from bot.worktree import GitError, Identity

BOT = Identity("wandb-inject[bot]", "7+wandb-inject[bot]@users.noreply.github.com")
BRANCH = "wandb-inject/main"
TOKEN = "ghs_secret-token-value"


@pytest.fixture
def origin(make_repo: MakeRepo, tmp_path: Path) -> Repo:
    """A bare repository: main holds a script, a settings file and a data file."""
    source = make_repo(
        {
            "train.py": EXAMPLE.read_bytes(),
            ".github/wandb-inject.yml": b"project: digits\n",
            "data/weights.bin": b"\0" * 4096,
        }
    )
    bare = Repo(tmp_path / "origin.git")
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(source.root), str(bare.root)],
        check=True,
    )
    # Without it, a file:// remote ignores --filter and sends every blob.
    bare.git("config", "uploadpack.allowFilter", "true")
    return bare


def remote_of(repo: Repo) -> Remote:
    return Remote(repo.root.as_uri(), TOKEN)


def change_and_push(workspace: Workspace, text: bytes = b"# tracked\n") -> str | None:
    (workspace.tree / "train.py").write_bytes(EXAMPLE.read_bytes() + text)
    return workspace.push(BRANCH, ["train.py"], "Track training", BOT)


def commit_on(repo: Repo, branch: str, path: str, data: bytes, email: str) -> str:
    """Commit `data` to `path` on `branch` of a bare repository, as `email`."""
    blob = (
        subprocess.run(
            ["git", "-C", str(repo.root), "hash-object", "-w", "--stdin"],
            input=data,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    parent = repo.git("rev-parse", branch)
    index = repo.root / "scratch-index"
    environment = {"GIT_INDEX_FILE": str(index), "PATH": "/usr/bin:/bin"}
    git = ["git", "-C", str(repo.root)]
    subprocess.run([*git, "read-tree", parent], env=environment, check=True)
    subprocess.run(
        [*git, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"],
        env=environment,
        check=True,
    )
    tree = subprocess.run(
        [*git, "write-tree"], env=environment, capture_output=True, check=True
    ).stdout.decode()
    identity = ["-c", "user.name=Someone", "-c", f"user.email={email}"]
    commit = subprocess.run(
        [*git, *identity, "commit-tree", tree.strip(), "-p", parent, "-m", "edit"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    repo.git("update-ref", f"refs/heads/{branch}", commit.strip())
    index.unlink()
    return commit.strip()


def test_the_clone_holds_only_what_the_job_reads_and_goes_afterwards(
    origin: Repo,
) -> None:
    with cloned(remote_of(origin), "main") as workspace:
        tree = workspace.tree
        files = {
            str(path.relative_to(tree))
            for path in tree.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(tree).parts[:1]
        }
        assert files == {"train.py", ".github/wandb-inject.yml"}
        assert workspace.base_commit == origin.git("rev-parse", "main")
        assert (tree / ".git" / "shallow").exists()

    assert not tree.parent.exists()


def test_the_clone_goes_even_when_the_job_fails(origin: Repo) -> None:
    with pytest.raises(RuntimeError), cloned(remote_of(origin), "main") as workspace:
        tree = workspace.tree
        raise RuntimeError("the job broke")

    assert not tree.parent.exists()


def test_a_first_push_makes_one_bot_commit_on_the_base(origin: Repo) -> None:
    with cloned(remote_of(origin), "main") as workspace:
        pushed = change_and_push(workspace)

    assert pushed == origin.git("rev-parse", BRANCH)
    assert origin.git("rev-parse", f"{BRANCH}^") == origin.git("rev-parse", "main")
    who = origin.git("log", "-1", "--format=%an <%ae>|%cn <%ce>", BRANCH)
    assert who == f"{BOT.name} <{BOT.email}>|{BOT.name} <{BOT.email}>"
    assert origin.show(BRANCH, "train.py").endswith(b"# tracked\n")


def test_the_same_change_again_pushes_nothing(origin: Repo) -> None:
    with cloned(remote_of(origin), "main") as workspace:
        first = change_and_push(workspace)
    with cloned(remote_of(origin), "main") as workspace:
        assert change_and_push(workspace) is None

    assert origin.git("rev-parse", BRANCH) == first


def test_a_new_change_goes_on_top_of_the_bots_earlier_commit(origin: Repo) -> None:
    with cloned(remote_of(origin), "main") as workspace:
        first = change_and_push(workspace)
    with cloned(remote_of(origin), "main") as workspace:
        second = change_and_push(workspace, b"# tracked, again\n")

    assert origin.git("rev-parse", BRANCH) == second
    assert origin.git("rev-parse", f"{BRANCH}^") == first
    assert origin.show(BRANCH, "train.py").endswith(b"# tracked, again\n")


def test_a_moved_base_becomes_a_second_parent_so_the_diff_is_the_bots_alone(
    origin: Repo,
) -> None:
    with cloned(remote_of(origin), "main") as workspace:
        first = change_and_push(workspace)
    moved = commit_on(origin, "main", "README.md", b"# Digits\n", "dev@example.test")

    with cloned(remote_of(origin), "main") as workspace:
        second = change_and_push(workspace)

    assert origin.git("rev-list", "--parents", "-1", BRANCH).split() == [
        second,
        first,
        moved,
    ]
    changed = origin.git("diff", "--name-only", f"main...{BRANCH}")
    assert changed == "train.py"


def test_a_branch_with_someone_elses_commit_is_left_alone(origin: Repo) -> None:
    with cloned(remote_of(origin), "main") as workspace:
        change_and_push(workspace)
    theirs = commit_on(origin, BRANCH, "notes.md", b"mine\n", "dev@example.test")

    with cloned(remote_of(origin), "main") as workspace, pytest.raises(BranchTaken):
        change_and_push(workspace, b"# again\n")

    assert origin.git("rev-parse", BRANCH) == theirs


def test_a_branch_already_merged_into_the_base_is_built_on(origin: Repo) -> None:
    old = origin.git("rev-parse", "main")
    origin.git("update-ref", f"refs/heads/{BRANCH}", old)
    commit_on(origin, "main", "README.md", b"# Digits\n", "dev@example.test")

    with cloned(remote_of(origin), "main") as workspace:
        pushed = change_and_push(workspace)

    assert origin.git("rev-parse", f"{BRANCH}^") == origin.git("rev-parse", "main")
    assert origin.git("rev-parse", BRANCH) == pushed


def test_the_token_travels_only_in_the_environment(
    origin: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []
    environments: list[dict[str, str]] = []
    real_run, real_popen = subprocess.run, subprocess.Popen

    def run(command: list[str], **options: Any) -> Any:
        commands.append(list(command))
        environments.append(dict(options.get("env") or {}))
        return real_run(command, **options)

    def popen(command: list[str], **options: Any) -> Any:
        commands.append(list(command))
        environments.append(dict(options.get("env") or {}))
        return real_popen(command, **options)

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(subprocess, "Popen", popen)

    with cloned(remote_of(origin), "main") as workspace:
        change_and_push(workspace)
        config = (workspace.tree / ".git" / "config").read_text()

    header = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert TOKEN not in config and header not in config
    assert not any(TOKEN in part or header in part for c in commands for part in c)
    # Calls that reach the remote carry the header; the others need no token.
    remote_calls = [
        env
        for command, env in zip(commands, environments, strict=True)
        if {"clone", "fetch", "push", "ls-remote", "read-tree"} & set(command)
    ]
    assert len(remote_calls) >= 4
    assert all(
        env["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {header}"
        for env in remote_calls
    )
    assert TOKEN not in repr(remote_of(origin))


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://github.example.com/o/r.git", id="plain-http-elsewhere"),
        pytest.param("ssh://git@github.com/o/r.git", id="ssh"),
        pytest.param("ext::sh -c touch% /tmp/pwned", id="ext"),
    ],
)
def test_git_is_refused_over_anything_but_https_and_local_http(url: str) -> None:
    with pytest.raises(GitError, match="refusing"):
        Remote(url, TOKEN).environment()


def test_the_header_goes_to_the_remotes_host_only() -> None:
    environment = Remote("http://127.0.0.1:8123/o/r.git", TOKEN).environment()

    assert environment["GIT_CONFIG_KEY_0"] == "http.http://127.0.0.1:8123/.extraHeader"
    assert environment["GIT_ALLOW_PROTOCOL"] == "http"


def test_a_clone_over_the_size_limit_is_stopped(
    origin: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.workspace, "MAX_CLONE_BYTES", 1)

    with pytest.raises(GitError, match="over"), cloned(remote_of(origin), "main"):
        pass


def test_a_clone_that_outgrows_the_limit_between_two_looks_is_stopped(
    origin: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git is looked at once, as if before it wrote anything, then only when it exits.
    real_size = bot.workspace._size
    looks: list[Path] = []

    def size(folder: Path) -> int:
        looks.append(folder)
        return real_size(folder) if len(looks) > 1 else 0

    monkeypatch.setattr(bot.workspace, "_size", size)
    monkeypatch.setattr(bot.workspace, "POLL_SECONDS", 60.0)
    monkeypatch.setattr(bot.workspace, "MAX_CLONE_BYTES", 1)

    with (
        pytest.raises(GitError, match="git clone stopped: the clone is over"),
        cloned(remote_of(origin), "main"),
    ):
        pass


def test_a_clone_past_the_time_limit_is_stopped(
    origin: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.workspace, "NETWORK_TIMEOUT", 0.0)

    with (
        pytest.raises(GitError, match="longer than"),
        cloned(remote_of(origin), "main"),
    ):
        pass


def test_inherited_git_variables_do_not_redirect_git(
    origin: Repo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "intruder@example.test")

    with cloned(remote_of(origin), "main") as workspace:
        change_and_push(workspace)

    # The test's own git calls must not be redirected either.
    monkeypatch.undo()
    assert origin.git("log", "-1", "--format=%ae", BRANCH) == BOT.email


def test_a_missing_base_is_a_clear_git_error(origin: Repo) -> None:
    with (
        pytest.raises(GitError, match="git clone failed"),
        cloned(remote_of(origin), "no-such-branch"),
    ):
        pass
