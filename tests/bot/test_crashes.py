"""Real processes killed or cut off: the worker by SIGKILL mid-job, the web process
right after its 2xx, Redis restarted under both. Nothing is lost or made twice."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deliveries import Sender, asking_repo, status_comments
from fakehub import bare
from fakehub.faults import Fault
from fakehub.fixtures import BOT_LOGIN, Hub
from fakehub.state import Issue, Repo
from processes import START_SECONDS, answering, environment, start, stop
from redis_server import RedisServer, persistent_redis_fixture  # noqa: F401
from support import eventually

from bot.leases import LEASE_SECONDS

OWNER, MAINTAINER = "acme", "alice"
# A lease to run out, the recovery to notice it, and the job to run again.
RECOVERY_SECONDS = LEASE_SECONDS + START_SECONDS


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started; any still running is killed after it."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def launch(
    processes: list[subprocess.Popen[str]], command: str, env: dict[str, str]
) -> subprocess.Popen[str]:
    process = start(command, env)
    processes.append(process)
    return process


def kill(process: subprocess.Popen[str]) -> str:
    """SIGKILL: no handler runs, nothing is flushed or acknowledged."""
    process.send_signal(signal.SIGKILL)
    output, _ = process.communicate(timeout=START_SECONDS)
    assert process.returncode == -signal.SIGKILL
    return output


def asked(github: Hub, name: str) -> tuple[Repo, Issue]:
    return asking_repo(github, OWNER, name, MAINTAINER)


def bot_pulls(github: Hub, name: str) -> list[Issue]:
    pulls = github.world.pulls(OWNER, name, "all")
    return [each for each in pulls if each.user.login == BOT_LOGIN]


def finished(github: Hub, repo: Repo, issue: Issue) -> bool:
    """The status comment names a pull request: the job ended."""
    comments = status_comments(github, repo, issue.number)
    return any("**PR " in each.body for each in comments)


def assert_done_once(github: Hub, repo: Repo, issue: Issue) -> None:
    [pull] = bot_pulls(github, repo.name)
    assert pull.pull is not None and pull.pull.head == "wandb-inject/main"
    assert branches(repo) == ["refs/heads/main", "refs/heads/wandb-inject/main"]
    ahead = bare.git(repo.git_dir, "rev-list", "--count", "main..wandb-inject/main")
    assert ahead.strip() == b"1"
    [status] = status_comments(github, repo, issue.number)
    assert f"#{pull.number} (" in status.body
    reactions = issue.comments[0].reactions
    assert [(each.user.login, each.content) for each in reactions] == [
        (BOT_LOGIN, "eyes")
    ]


def branches(repo: Repo) -> list[str]:
    names = bare.git(repo.git_dir, "for-each-ref", "--format=%(refname)")
    return sorted(names.decode().split())


def hold_pull_request(github: Hub, name: str) -> Fault:
    """GitHub opens the pull request and keeps the answer until the caller
    hangs up: the worker dies with the pull request made but not known."""
    path = f"/repos/{OWNER}/{name}/pulls"
    return github.api.faults.stall("POST", path, applied=True, seconds=60)


def test_serve_killed_mid_job_and_right_after_a_2xx_redoes_both_once(
    tmp_path: Path, github: Hub, processes: list[subprocess.Popen[str]]
) -> None:
    env = environment(tmp_path, github)
    url = f"http://{env['WANDB_INJECT_LISTEN']}"
    sender = Sender(github, url)
    busy = busy_repo, busy_issue = asked(github, "digits")
    late = late_repo, late_issue = asked(github, "letters")
    held = hold_pull_request(github, "digits")
    first = launch(processes, "serve", env)
    answering(f"{url}/readyz", first)

    sender.comment(busy_repo, busy_issue.number, "/wandb-inject", MAINTAINER)
    eventually(lambda: held.taken, "the pull request call", START_SECONDS)
    answer = sender.comment(late_repo, late_issue.number, "/wandb-inject", MAINTAINER)
    kill(first)
    second = launch(processes, "serve", env)
    eventually(
        lambda: finished(github, *busy) and finished(github, *late),
        "both jobs",
        RECOVERY_SECONDS,
    )
    _, output = stop(second)

    assert answer.status_code == 202
    assert_done_once(github, busy_repo, busy_issue)
    assert_done_once(github, late_repo, late_issue)
    assert "task of a dead worker queued again" in output


def test_a_redis_worker_killed_mid_job_leaves_it_to_another(
    tmp_path: Path,
    github: Hub,
    persistent_redis: RedisServer,
    processes: list[subprocess.Popen[str]],
) -> None:
    env = environment(tmp_path, github, WANDB_INJECT_QUEUE=persistent_redis.url)
    url = f"http://{env['WANDB_INJECT_LISTEN']}"
    repo, issue = asked(github, "digits")
    held = hold_pull_request(github, "digits")
    web, doomed = launch(processes, "serve", env), launch(processes, "worker", env)
    answering(f"{url}/readyz", web)

    Sender(github, url).comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    eventually(lambda: held.taken, "the pull request call", START_SECONDS)
    kill(doomed)
    other = launch(processes, "worker", env)
    eventually(lambda: finished(github, repo, issue), "the job", RECOVERY_SECONDS)
    code, output = stop(other)

    assert_done_once(github, repo, issue)
    assert "task of a dead worker queued again" in output
    assert code == 0 and "Traceback" not in output, output


def test_workers_carry_on_after_redis_restarts(
    tmp_path: Path,
    github: Hub,
    persistent_redis: RedisServer,
    processes: list[subprocess.Popen[str]],
) -> None:
    env = environment(tmp_path, github, WANDB_INJECT_QUEUE=persistent_redis.url)
    url = f"http://{env['WANDB_INJECT_LISTEN']}"
    sender = Sender(github, url)
    web, worker = launch(processes, "serve", env), launch(processes, "worker", env)
    answering(f"{url}/readyz", web)
    idle = idle_repo, idle_issue = asked(github, "digits")
    busy = busy_repo, busy_issue = asked(github, "letters")
    late = late_repo, late_issue = asked(github, "numbers")

    # Restarted while the workers wait for work.
    persistent_redis.restart()
    sender.comment(idle_repo, idle_issue.number, "/wandb-inject", MAINTAINER)
    eventually(lambda: finished(github, idle_repo, idle_issue), "a job", 30)
    # Restarted while a job waits on GitHub: it finishes when it comes back.
    held = hold_pull_request(github, "letters")
    sender.comment(busy_repo, busy_issue.number, "/wandb-inject", MAINTAINER)
    eventually(lambda: held.taken, "the pull request call", START_SECONDS)
    persistent_redis.stop()
    down = httpx.get(f"{url}/readyz")
    refused = sender.comment(late_repo, late_issue.number, "/wandb-inject", MAINTAINER)
    persistent_redis.start_stopped()
    held.released.set()
    eventually(lambda: finished(github, busy_repo, busy_issue), "the job", 30)
    # GitHub's redelivery of what was refused, with the same delivery id.
    again = httpx.post(
        f"{url}/webhook",
        content=refused.request.content,
        headers=refused.request.headers,
    )
    eventually(lambda: finished(github, late_repo, late_issue), "the redelivery", 30)
    stop(web)
    worker_code, worker_output = stop(worker)

    assert down.status_code == 503
    assert (refused.status_code, again.status_code) == (500, 202)
    for repo, issue in (idle, busy, late):
        assert_done_once(github, repo, issue)
    assert worker_code == 0, worker_output
