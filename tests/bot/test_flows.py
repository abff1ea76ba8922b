"""The app end to end: signed deliveries in, reactions, comments and pull requests out.

The app is served on loopback and queues into SQLite; the test runs the queued
jobs, which clone from and push to the fake's git remote and call the fake's API.
"""

from __future__ import annotations

import json

import webhook_payloads as payloads
from deliveries import Sender, run_jobs, status_comments
from fakehub import bare
from fakehub.fixtures import BOT_LOGIN, Hub
from fakehub.state import Issue, Repo
from gitrepos import EXAMPLE

from bot.pr_body import MARKER
from bot.queue import JobQueue

OWNER, NAME = "acme", "digits"
MAINTAINER, VISITOR = "alice", "mallory"
BRANCH = "wandb-inject/main"
PYTHON2 = b'print "hello"\nloss.backward()\nif __name__ == "__main__":\n    pass\n'


def make_repo(github: Hub, files: dict[str, bytes | str] | None = None) -> Repo:
    repo = github.world.add_repo(
        OWNER, NAME, files or {"train.py": EXAMPLE.read_bytes(), "README.md": "# D\n"}
    )
    github.world.grant(OWNER, NAME, MAINTAINER, "write")
    github.world.grant(OWNER, NAME, VISITOR, "read")
    return repo


def open_issue(github: Hub) -> Issue:
    return github.world.open_issue(OWNER, NAME, "Track our training runs")


def status(github: Hub, repo: Repo, number: int) -> str:
    """The one status comment the bot keeps on `number`."""
    [comment] = status_comments(github, repo, number)
    return comment.body


def bot_pulls(github: Hub, state: str = "all") -> list[Issue]:
    return [
        pull
        for pull in github.world.pulls(OWNER, NAME, state)
        if pull.user.login == BOT_LOGIN
    ]


def changed_files(repo: Repo, base: str, head: str) -> set[str]:
    names = bare.git(repo.git_dir, "diff", "--name-only", f"{base}...{head}")
    return set(names.decode().split())


def test_a_comment_on_an_issue_opens_a_pull_request_and_says_so(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)

    answer = sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    ran = run_jobs(queue)

    assert (answer.status_code, answer.json()["outcome"], ran) == (202, "queued", 2)
    [pull] = bot_pulls(github)
    assert pull.pull is not None
    assert (pull.pull.head, pull.pull.base, pull.state) == (BRANCH, "main", "open")
    assert pull.body is not None and pull.body.startswith(MARKER)
    assert f"Requested in #{issue.number} by @{MAINTAINER}." in pull.body
    assert f"/blob/{BRANCH}/train.py#L" in pull.body
    assert changed_files(repo, "main", BRANCH) == {"train.py"}
    new_source = bare.read_blob(repo.git_dir, BRANCH, "train.py")
    assert new_source is not None and b"wandb.init(" in new_source[1]
    # By the app's bot account, as GitHub ties commits to it.
    author = bare.git(repo.git_dir, "log", "-1", "--format=%an <%ae>", BRANCH)
    noreply = f"{github.world.bot.id}+{BOT_LOGIN}@users.noreply.github.com"
    assert author.decode().strip() == f"{BOT_LOGIN} <{noreply}>"
    [reaction] = issue.comments[0].reactions
    assert (reaction.user.login, reaction.content) == (BOT_LOGIN, "eyes")
    assert f"**PR opened:** #{pull.number}" in status(github, repo, issue.number)


def test_a_comment_on_a_pull_request_proposes_a_change_to_its_branch(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo = make_repo(github)
    github.world.push(OWNER, NAME, "faster-loader", {"loader.py": "BATCH = 64\n"})
    theirs = github.world.open_pull(OWNER, NAME, "faster-loader", user=MAINTAINER)

    sender.comment(repo, theirs.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)

    [ours] = bot_pulls(github)
    assert ours.pull is not None
    assert (ours.pull.head, ours.pull.base) == (
        "wandb-inject/faster-loader",
        "faster-loader",
    )
    assert f"**PR opened:** #{ours.number}" in status(github, repo, theirs.number)


def test_the_label_opens_a_pull_request_and_is_taken_off(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)

    answer = sender.label(repo, issue.number, MAINTAINER)
    run_jobs(queue)

    assert answer.status_code == 202
    assert issue.labels == []
    [reaction] = issue.reactions
    assert reaction.user.login == BOT_LOGIN
    [pull] = bot_pulls(github)
    assert f"**PR opened:** #{pull.number}" in status(github, repo, issue.number)


def test_asking_again_updates_the_same_pull_request(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)
    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)
    first_tip = repo.branch_sha(BRANCH)
    script = EXAMPLE.read_bytes().replace(b"default=1.0", b"default=0.5")
    github.world.push(OWNER, NAME, "main", {"train.py": script})

    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)

    [pull] = bot_pulls(github)
    assert pull.state == "open"
    [first, second] = status_comments(github, repo, issue.number)
    assert f"**PR opened:** #{pull.number}" in first.body
    assert f"**PR updated:** #{pull.number}" in second.body
    # The update builds on the bot's first commit, and carries the new base.
    parents = bare.git(repo.git_dir, "rev-list", "--parents", "-1", BRANCH).split()
    assert parents[1].decode() == first_tip
    new_source = bare.read_blob(repo.git_dir, BRANCH, "train.py")
    assert new_source is not None and b"default=0.5" in new_source[1]
    assert changed_files(repo, "main", BRANCH) == {"train.py"}


def test_a_pull_request_closed_unmerged_is_respected_until_recreate(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)
    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)
    [declined] = bot_pulls(github)
    github.world.close(OWNER, NAME, declined.number)

    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)

    assert len(bot_pulls(github)) == 1
    not_wanted = status_comments(github, repo, issue.number)[-1].body
    assert f"**Not wanted:** a previous pull request from `{BRANCH}`" in not_wanted
    assert "`/wandb-inject recreate`" in not_wanted

    sender.comment(repo, issue.number, "/wandb-inject recreate", MAINTAINER)
    run_jobs(queue)

    [new] = bot_pulls(github, "open")
    assert new.number != declined.number
    assert (
        f"**PR opened:** #{new.number}"
        in status_comments(github, repo, issue.number)[-1].body
    )


def test_someone_without_write_access_is_politely_refused(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)

    sender.comment(repo, issue.number, "/wandb-inject", VISITOR)
    run_jobs(queue)

    assert bot_pulls(github) == []
    assert f"**Refused.** Sorry @{VISITOR}" in status(github, repo, issue.number)
    assert github.git.requests == []


def test_a_forged_delivery_is_refused_and_nothing_runs(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)
    github.world.comment(OWNER, NAME, issue.number, "/wandb-inject", MAINTAINER)

    payload = payloads.comment_created("/wandb-inject")
    answer = sender.post("issue_comment", payload, secret="not the app's secret")

    assert answer.status_code == 401
    assert run_jobs(queue) == 0
    assert status_comments(github, repo, issue.number) == []


def test_a_repeated_delivery_is_done_once(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)
    first = sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)

    # A redelivery, as GitHub sends it: the same body under the same id.
    again = sender.post(
        "issue_comment",
        json.loads(first.request.content),
        delivery=first.request.headers["x-github-delivery"],
    )
    ran = run_jobs(queue)

    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert ran == 2
    assert len(bot_pulls(github)) == 1


def test_a_repository_with_nothing_to_track_gets_no_pull_request(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo = make_repo(github, {"util.py": "def add(a, b):\n    return a + b\n"})
    issue = open_issue(github)

    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)

    assert bot_pulls(github) == []
    assert repo.branch_sha(BRANCH) is None
    text = status(github, repo, issue.number)
    assert "**Nothing to do:** no training scripts found." in text


def test_a_script_that_does_not_parse_is_named_and_the_others_are_tracked(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo = make_repo(github, {"train.py": EXAMPLE.read_bytes(), "old.py": PYTHON2})
    issue = open_issue(github)

    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)

    [pull] = bot_pulls(github)
    assert pull.body is not None
    assert "`old.py` (skipped): does not parse as Python 3 (line 1" in pull.body
    assert changed_files(repo, "main", BRANCH) == {"train.py"}


def test_a_repository_whose_only_script_does_not_parse_is_told_why(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo = make_repo(github, {"train.py": PYTHON2})
    issue = open_issue(github)

    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)

    assert bot_pulls(github) == []
    text = status(github, repo, issue.number)
    assert "**Nothing to do:** no training script needs a change." in text
    assert "`train.py` (skipped): does not parse as Python 3 (line 1" in text


def test_an_unknown_argument_gets_a_helpful_reply_and_no_job(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)

    sender.comment(repo, issue.number, "/wandb-inject --force", MAINTAINER)
    run_jobs(queue)

    text = status(github, repo, issue.number)
    assert "**Not understood:** I don't know `--force`." in text
    assert "`dry-run`, `recreate`, `paths=" in text
    assert github.git.requests == []


def test_a_dry_run_shows_the_pull_request_and_pushes_nothing(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)

    sender.comment(repo, issue.number, "/wandb-inject dry-run", MAINTAINER)
    run_jobs(queue)

    assert bot_pulls(github) == []
    assert repo.branch_sha(BRANCH) is None
    text = status(github, repo, issue.number)
    assert "**Dry run:** nothing was pushed." in text
    assert "Track training with Weights & Biases in train.py" in text


def test_a_bad_settings_file_is_reported_and_nothing_is_pushed(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    files = {
        "train.py": EXAMPLE.read_bytes(),
        ".github/wandb-inject.yml": "log_every: 0\n",
    }
    repo, issue = make_repo(github, files), open_issue(github)

    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)

    assert repo.branch_sha(BRANCH) is None
    text = status(github, repo, issue.number)
    assert "**Stopped:** the settings file has problems" in text
    assert "log_every" in text


def test_github_failing_once_is_retried_and_the_pull_request_opened_once(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)
    github.api.fail_next("POST", f"/repos/{OWNER}/{NAME}/pulls", status=502)

    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)

    [pull] = bot_pulls(github)
    assert f"**PR opened:** #{pull.number}" in status(github, repo, issue.number)
    assert len(github.api.called("POST", f"/repos/{OWNER}/{NAME}/pulls")) == 2


def test_github_failing_on_every_attempt_is_reported_as_failed(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    repo, issue = make_repo(github), open_issue(github)
    github.api.fail_next("GET", f"/repos/{OWNER}/{NAME}", status=502, times=100)

    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)

    attempts = queue.retries + 1
    assert len(github.api.called("GET", f"/repos/{OWNER}/{NAME}")) == attempts
    text = status(github, repo, issue.number)
    assert text.endswith(
        f"**Failed:** GitHub answered 502 while reading the repository, on each of "
        f"{attempts} attempts. Comment `/wandb-inject` to try again."
    )
    assert bot_pulls(github) == []


def test_paths_and_project_from_the_comment_win_over_the_defaults(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    script = EXAMPLE.read_bytes()
    repo = make_repo(github, {"train.py": script, "other/train.py": script})
    issue = open_issue(github)

    command = "/wandb-inject project=mnist-runs paths=other/train.py"
    sender.comment(repo, issue.number, command, MAINTAINER)
    run_jobs(queue)

    [pull] = bot_pulls(github)
    assert changed_files(repo, "main", BRANCH) == {"other/train.py"}
    new_source = bare.read_blob(repo.git_dir, BRANCH, "other/train.py")
    assert new_source is not None
    assert b'os.environ.get("WANDB_PROJECT", "mnist-runs")' in new_source[1]
    assert pull.body is not None and "`mnist-runs`" in pull.body
