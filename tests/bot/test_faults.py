"""GitHub failing under the job: each fault is retried at the time GitHub asks for,
and the job ends with one branch, one pull request, one comment, one reaction."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from deliveries import Sender, asking_repo, status_comments
from fakehub import bare
from fakehub.fixtures import BOT_LOGIN, Hub
from fakehub.state import Issue, Repo

import bot.github
from bot.queue import RETRY_DELAY_SECONDS, JobQueue

OWNER, NAME = "acme", "digits"
MAINTAINER = "alice"
BRANCH = "wandb-inject/main"
REPO = f"/repos/{OWNER}/{NAME}"
PULLS = f"{REPO}/pulls"
COMMENTS = f"{REPO}/issues/*/comments"
REACTIONS = f"{REPO}/issues/comments/*/reactions"
# Short enough that a stalled call fails fast, long enough for a loaded
# machine to answer the calls that are not stalled; the real one is 30 s.
TEST_TIMEOUT_SECONDS = 3.0


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.github, "TIMEOUT_SECONDS", TEST_TIMEOUT_SECONDS)


def run_noting_waits(queue: JobQueue, until: list[float] | None = None) -> list[float]:
    """Run every queued task, retries included at once; the wait each retry
    was scheduled with, in seconds, in order; and in `until`, the time each
    wait ends."""
    huey = queue.huey
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    waits = []
    while True:
        task = huey.dequeue()
        if task is not None:
            huey.execute(task, later)
            continue
        scheduled = huey.read_schedule(later)
        if not scheduled:
            return waits
        now = datetime.now(UTC).replace(tzinfo=None)
        for each in scheduled:
            waits.append((each.eta - now).total_seconds())
            if until is not None:
                until.append(each.eta.replace(tzinfo=UTC).timestamp())
            huey.enqueue(each)


def asked(github: Hub) -> tuple[Repo, Issue]:
    return asking_repo(github, OWNER, NAME, MAINTAINER)


def assert_done_once(github: Hub, repo: Repo, issue: Issue) -> None:
    """One bot branch, one pull request, one status comment saying so, one
    reaction: nothing a retry could have made twice."""
    pulls = [
        each
        for each in github.world.pulls(OWNER, NAME, "all")
        if each.user.login == BOT_LOGIN
    ]
    assert len(pulls) == 1, [each.number for each in pulls]
    names = bare.git(repo.git_dir, "for-each-ref", "--format=%(refname)")
    assert sorted(names.decode().split()) == [
        "refs/heads/main",
        f"refs/heads/{BRANCH}",
    ]
    # One commit: a retry finds the change already pushed and pushes no other.
    ahead = bare.git(repo.git_dir, "rev-list", "--count", f"main..{BRANCH}")
    assert ahead.strip() == b"1"
    [status] = status_comments(github, repo, issue.number)
    # A retry after a lost answer finds the pull request and says "updated".
    assert re.search(rf"\*\*PR (opened|updated):\*\* #{pulls[0].number} ", status.body)
    request = issue.comments[0]
    assert [(each.user.login, each.content) for each in request.reactions] == [
        (BOT_LOGIN, "eyes")
    ]


def request_job(github: Hub, sender: Sender, queue: JobQueue) -> tuple[Repo, Issue]:
    repo, issue = asked(github)
    answer = sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    assert answer.status_code == 202
    return repo, issue


def backoff(attempt: int) -> float:
    return RETRY_DELAY_SECONDS * 2**attempt


def test_a_server_error_is_retried_on_the_backoff(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    status = 500
    github.api.faults.server_error("GET", REPO, status, times=2)
    repo, issue = request_job(github, sender, queue)

    waits = run_noting_waits(queue)

    assert waits == [pytest.approx(backoff(0), abs=2), pytest.approx(backoff(1), abs=2)]
    assert [each.fault for each in github.api.called("GET", REPO)] == [
        str(status),
        str(status),
        "",
    ]
    assert_done_once(github, repo, issue)


@pytest.mark.parametrize(
    ("program", "path"),
    [
        pytest.param("secondary_rate_limit", PULLS, id="403-pull-request"),
        pytest.param("too_many_requests", REACTIONS, id="429-reaction"),
    ],
)
def test_a_secondary_rate_limit_waits_as_long_as_github_says(
    github: Hub, sender: Sender, queue: JobQueue, program: str, path: str
) -> None:
    getattr(github.api.faults, program)("POST", path, retry_after=7)
    repo, issue = request_job(github, sender, queue)

    waits = run_noting_waits(queue)

    assert waits == [pytest.approx(7, abs=1)]
    assert [each.status for each in github.api.called("POST", path)] == [
        403 if program == "secondary_rate_limit" else 429,
        201,
    ]
    assert_done_once(github, repo, issue)


def test_a_spent_hourly_limit_waits_until_its_reset(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    fault = github.api.faults.primary_rate_limit("GET", REPO, reset_in=300)
    repo, issue = request_job(github, sender, queue)

    until: list[float] = []
    run_noting_waits(queue, until)

    # The reset is in whole seconds.
    reset = float(fault.headers["x-ratelimit-reset"])
    assert until == [pytest.approx(reset, abs=1.5)]
    assert_done_once(github, repo, issue)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", PULLS, id="pull-request"),
        pytest.param("POST", COMMENTS, id="status-comment"),
    ],
)
def test_a_502_after_github_made_the_thing_makes_no_second(
    github: Hub, sender: Sender, queue: JobQueue, method: str, path: str
) -> None:
    github.api.faults.server_error(method, path, 502, applied=True)
    repo, issue = request_job(github, sender, queue)

    run_noting_waits(queue)

    [first, *_] = github.api.called(method, path)
    assert first.fault == "502 after applying"
    assert_done_once(github, repo, issue)


def test_a_stalled_call_times_out_and_is_retried(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    stalled = github.api.faults.stall("POST", PULLS, applied=True)
    repo, issue = request_job(github, sender, queue)

    waits = run_noting_waits(queue)

    assert stalled.taken == 1
    assert waits == [pytest.approx(backoff(0), abs=2)]
    [first, *_] = github.api.called("POST", PULLS)
    assert (first.fault, first.status) == (stalled.label, 0)
    assert_done_once(github, repo, issue)


def test_a_dropped_connection_is_retried(
    github: Hub, sender: Sender, queue: JobQueue
) -> None:
    github.api.faults.drop("POST", COMMENTS)
    repo, issue = request_job(github, sender, queue)

    waits = run_noting_waits(queue)

    assert waits == [pytest.approx(backoff(0), abs=2)]
    assert_done_once(github, repo, issue)
