"""The job on real git repositories: what it commits, and everything it leaves alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepos import EXAMPLE, MakeRepo, Repo

import bot.job
from bot.job import LocalRun, run_in_repository, run_job
from bot.repo_config import CONFIG_PATH, RepoConfigError
from bot.worktree import BOT_EMAIL, BOT_NAME, GitError
from injector import InjectOptions, Role, Status, inject_source

SETTINGS = b"""project: digits
entity: vision-team
log_every: 7
exclude: ["legacy/**"]
"""


def run(
    repo: Repo,
    *,
    base: str | None = None,
    branch: str | None = None,
    dry_run: bool = False,
) -> LocalRun:
    return run_in_repository(repo.root, base=base, branch=branch, dry_run=dry_run)


def changed_paths(repo: Repo, old: str, new: str) -> set[str]:
    return set(repo.git("diff", "--name-only", old, new).splitlines())


def test_one_bot_commit_on_a_new_branch_whose_parent_is_the_base(
    mnist_repo: Repo,
) -> None:
    base = mnist_repo.git("rev-parse", "main")
    # The user's own author identity must not claim the bot's commit.
    mnist_repo.git("config", "author.name", "Someone Else")
    mnist_repo.git("config", "committer.email", "someone@example.test")

    outcome = run(mnist_repo)

    branch = "wandb-inject/main"
    assert (outcome.base, outcome.branch) == ("main", branch)
    assert outcome.commit == mnist_repo.git("rev-parse", branch)
    assert mnist_repo.git("rev-list", "--count", f"main..{branch}") == "1"
    assert mnist_repo.git("rev-parse", f"{branch}^") == base
    identity = mnist_repo.git("log", "-1", "--format=%an <%ae>|%cn <%ce>", branch)
    bot = f"{BOT_NAME} <{BOT_EMAIL}>"
    assert identity == f"{bot}|{bot}"
    assert changed_paths(mnist_repo, base, branch) == {"train.py"}
    [report] = outcome.result.changed
    assert mnist_repo.show(branch, "train.py") == report.new_source


def test_the_committed_file_is_the_injectors_output(mnist_repo: Repo) -> None:
    outcome = run(mnist_repo)

    assert outcome.result.scan is not None
    [candidate] = outcome.result.scan.candidates
    options = InjectOptions(project=mnist_repo.root.name, role=candidate.role)
    expected = inject_source(EXAMPLE.read_bytes(), options, path="train.py")
    assert mnist_repo.show(outcome.branch, "train.py") == expected.new_source


def test_the_users_tree_edits_and_branch_are_untouched(mnist_repo: Repo) -> None:
    edited = EXAMPLE.read_bytes() + b"# my uncommitted edit\n"
    mnist_repo.write("train.py", edited)
    mnist_repo.write("notes.txt", b"untracked\n")
    mnist_repo.write("README.md", b"# Digits, staged\n")
    mnist_repo.git("add", "README.md")
    status = mnist_repo.git("status", "--porcelain=v2", "--branch")
    staged = mnist_repo.git("diff", "--cached")

    outcome = run(mnist_repo)

    assert mnist_repo.git("status", "--porcelain=v2", "--branch") == status
    assert mnist_repo.git("diff", "--cached") == staged
    assert mnist_repo.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert (mnist_repo.root / "train.py").read_bytes() == edited
    # The commit starts from the base commit, never from the uncommitted edit.
    assert b"my uncommitted edit" not in mnist_repo.show(outcome.branch, "train.py")


def test_no_hook_of_the_repository_runs(mnist_repo: Repo) -> None:
    # The proof file is written when a hook runs: check the hooks do work.
    mnist_repo.git("checkout", "--quiet", "-b", "probe")
    assert "post-checkout" in mnist_repo.hook_proof.read_text().split()
    mnist_repo.git("checkout", "--quiet", "main")
    mnist_repo.hook_proof.unlink()

    run(mnist_repo)

    assert not mnist_repo.hook_proof.exists()


def test_dry_run_writes_nothing(mnist_repo: Repo) -> None:
    refs = mnist_repo.refs()

    outcome = run(mnist_repo, dry_run=True)

    assert outcome.commit is None
    assert outcome.result.changed and "train.py" in outcome.result.body
    assert mnist_repo.refs() == refs
    assert len(mnist_repo.worktrees()) == 1
    assert mnist_repo.git("status", "--porcelain") == ""


def test_no_worktree_is_left_after_a_run(mnist_repo: Repo) -> None:
    run(mnist_repo)

    [main_tree] = mnist_repo.worktrees()
    assert main_tree.startswith(f"worktree {mnist_repo.root}")


def test_nothing_to_do_creates_no_branch(make_repo: MakeRepo) -> None:
    repo = make_repo({"util.py": b"def add(a, b):\n    return a + b\n"})
    refs = repo.refs()

    outcome = run(repo)

    assert outcome.commit is None
    assert outcome.result.nothing_to_do()
    assert outcome.result.body == ""
    assert repo.refs() == refs


def test_a_script_that_does_not_parse_is_left_alone_with_its_reason(
    make_repo: MakeRepo,
) -> None:
    python2 = b'print "hello"\nloss.backward()\nif __name__ == "__main__":\n    pass\n'
    repo = make_repo({"train.py": python2})

    outcome = run(repo)

    [report] = outcome.result.reports
    assert report.status is Status.SKIPPED
    assert report.reason.startswith("does not parse as Python 3 (line 1:")
    assert outcome.result.nothing_to_do() == "no training script needs a change"
    assert outcome.commit is None


def test_settings_file_excludes_paths_and_sets_project_and_interval(
    make_repo: MakeRepo,
) -> None:
    script = EXAMPLE.read_bytes()
    repo = make_repo(
        {"train.py": script, "legacy/old.py": script, CONFIG_PATH: SETTINGS}
    )

    outcome = run(repo)

    result = outcome.result
    assert [report.path for report in result.changed] == ["train.py"]
    assert result.scan is not None
    # The locator skips an excluded folder whole, and names the folder.
    assert "legacy/" in {item.path for item in result.scan.excluded}
    assert changed_paths(repo, "main", outcome.branch) == {"train.py"}
    [candidate] = result.scan.candidates
    options = InjectOptions(
        project="digits", entity="vision-team", log_every=7, role=candidate.role
    )
    expected = inject_source(script, options, path="train.py").new_source
    assert repo.show(outcome.branch, "train.py") == expected
    assert b'"WANDB_PROJECT", "digits"' in expected
    assert b'"WANDB_ENTITY", "vision-team"' in expected
    assert "project `digits` (from .github/wandb-inject.yml)" in result.body
    assert "`legacy/`" in result.body


def test_disabled_in_the_settings_file_does_nothing(make_repo: MakeRepo) -> None:
    repo = make_repo({"train.py": EXAMPLE.read_bytes(), CONFIG_PATH: b"enabled: no\n"})
    refs = repo.refs()

    outcome = run(repo)

    assert outcome.result.nothing_to_do() == (
        f"disabled by `enabled: false` in {CONFIG_PATH}"
    )
    assert outcome.result.scan is None
    assert repo.refs() == refs


def test_a_bad_settings_file_stops_the_job_and_leaves_nothing(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(
        {"train.py": EXAMPLE.read_bytes(), CONFIG_PATH: b"log_every: 0\nfoo: 1\n"}
    )
    refs = repo.refs()

    with pytest.raises(RepoConfigError) as caught:
        run(repo)

    assert len(caught.value.problems) == 2
    assert repo.refs() == refs
    assert len(repo.worktrees()) == 1


def test_body_line_numbers_match_the_committed_file(entry_repo: Repo) -> None:
    outcome = run(entry_repo)

    assert outcome.result.changed
    for report in outcome.result.changed:
        committed = entry_repo.show(outcome.branch, report.path).decode().splitlines()
        for insertion in report.insertions:
            assert f"`{report.path}:{insertion.line}`" in outcome.result.body
            first_line = insertion.code.splitlines()[0].strip()
            assert committed[insertion.line - 1].strip() == first_line


def test_each_candidate_is_injected_in_its_role(entry_repo: Repo) -> None:
    outcome = run(entry_repo, dry_run=True)

    scan = outcome.result.scan
    assert scan is not None
    roles = {c.path: c.role for c in scan.candidates}
    assert roles == {"main.py": Role.ENTRY, "engine.py": Role.LOOP}
    reports = {report.path: report for report in outcome.result.reports}
    assert {report.path for report in outcome.result.changed} == set(roles)
    for candidate in scan.candidates:
        source = (entry_repo.root / candidate.path).read_bytes()
        options = InjectOptions(
            project=entry_repo.root.name, role=candidate.role, links=candidate.links
        )
        expected = inject_source(source, options, path=candidate.path)
        assert reports[candidate.path].new_source == expected.new_source


def test_base_and_branch_can_be_named(mnist_repo: Repo) -> None:
    mnist_repo.git("branch", "release")
    mnist_repo.write("extra.txt", b"later\n")
    mnist_repo.commit_all("A commit on main only")

    outcome = run(mnist_repo, base="release", branch="tracking")

    assert (outcome.base, outcome.branch) == ("release", "tracking")
    release = mnist_repo.git("rev-parse", "release")
    assert mnist_repo.git("rev-parse", "tracking^") == release


@pytest.mark.parametrize(
    ("base", "branch", "message"),
    [
        pytest.param("nope", None, "no such base: 'nope'", id="missing-base"),
        pytest.param("--all", None, "no such base: '--all'", id="option-base"),
        pytest.param(None, "a..b", "not a valid branch name", id="bad-name"),
        pytest.param(None, "-x", "not a valid branch name", id="option-name"),
    ],
)
def test_refusals(
    mnist_repo: Repo, base: str | None, branch: str | None, message: str
) -> None:
    refs = mnist_repo.refs()

    with pytest.raises(GitError, match=message):
        run(mnist_repo, base=base, branch=branch)

    assert mnist_repo.refs() == refs


def test_an_existing_branch_is_refused(mnist_repo: Repo) -> None:
    first = run(mnist_repo)

    with pytest.raises(GitError, match="'wandb-inject/main' already exists"):
        run(mnist_repo)

    assert mnist_repo.git("rev-parse", "wandb-inject/main") == first.commit


@pytest.mark.parametrize(
    ("create", "message"),
    [(True, "not a git repository: "), (False, "not a folder: ")],
    ids=["plain-folder", "missing"],
)
def test_a_folder_outside_git_is_refused(
    tmp_path: Path, create: bool, message: str
) -> None:
    folder = tmp_path / "plain"
    if create:
        folder.mkdir()

    with pytest.raises(GitError, match=message + str(folder)):
        run_in_repository(folder, base=None, branch=None, dry_run=False)


def test_a_detached_head_needs_a_base(mnist_repo: Repo) -> None:
    mnist_repo.git("checkout", "--quiet", "--detach", "main")

    with pytest.raises(GitError, match="name the base with --base"):
        run(mnist_repo)


def test_a_link_to_outside_is_not_followed(make_repo: MakeRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_bytes(EXAMPLE.read_bytes())
    repo = make_repo({"README.md": b"# A link\n"})
    (repo.root / "train.py").symlink_to(outside)
    repo.commit_all("A link")

    result = run_job(repo.root, fallback_project="digits")

    assert not result.changed
    assert outside.read_bytes() == EXAMPLE.read_bytes()


def test_a_script_over_the_size_limit_is_left_alone_with_its_reason(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = EXAMPLE.read_bytes()
    big = script + b"# padding\n" * 100
    repo = make_repo({"train.py": script, "big/train.py": big})
    monkeypatch.setattr(bot.job, "MAX_SCRIPT_BYTES", len(script))

    result = run_job(repo.root, fallback_project="digits")

    reports = {report.path: report for report in result.reports}
    assert reports["train.py"].status is Status.CHANGED
    assert reports["big/train.py"].status is Status.SKIPPED
    assert reports["big/train.py"].reason == "larger than 4 KiB, too big to rewrite"
    assert "`big/train.py` (skipped): larger than 4 KiB" in result.body


def test_scripts_past_the_jobs_budget_are_left_alone_with_its_reason(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = EXAMPLE.read_bytes()
    files = {f"run{number}/train.py": script for number in range(3)}
    repo = make_repo(files)
    monkeypatch.setattr(bot.job, "MAX_JOB_BYTES", 2 * len(script))

    result = run_job(repo.root, fallback_project="digits")

    statuses = [report.status for report in result.reports]
    assert statuses == [Status.CHANGED, Status.CHANGED, Status.SKIPPED]
    assert result.reports[2].reason.startswith("the job's 0 MB for scripts was used")
    assert "alone with `paths=`" in result.reports[2].reason
