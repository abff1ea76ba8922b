"""The app's secrets stay secret through whole flows: success, retry, failure.

The private key, the installation tokens and the webhook secret are looked for
in every log record (all loggers, at DEBUG, tracebacks included), every comment,
pull request and commit the bot made, the clone's `.git/config`, the argv of
every process started (and every command line /proc shows meanwhile, for the
helpers git starts itself), the webhook's answers, and every file the test's
folders hold (queue, store, git remotes) once the flows are done.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hostile
import pytest
from deliveries import Sender, run_jobs
from fakehub import bare
from fakehub.fixtures import Hub
from gitrepos import EXAMPLE
from hostile import Clones
from test_flows import MAINTAINER, NAME, OWNER, bot_pulls, make_repo, open_issue, status

from bot.queue import JobQueue
from bot.settings import Settings

clones = hostile.clones

LOGGERS = ("", "bot", "httpx", "httpcore", "githubkit", "huey", "uvicorn")


@dataclass
class Processes:
    """The argv of every process started, and the environments they got."""

    argv: list[str] = field(default_factory=list)
    environments: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> Processes:
    seen = Processes()
    real = subprocess.Popen

    class RecordingPopen(real):  # type: ignore[misc, valid-type]
        def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
            seen.argv.append(repr(args))
            seen.environments.append(dict(options.get("env") or {}))
            super().__init__(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    return seen


class CommandLines:
    """Samples every process's command line, git's own children included,
    for as long as the test runs."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    self.seen.add(cmdline.read_bytes().replace(b"\0", b" ").decode())
                except (OSError, UnicodeDecodeError):
                    continue

    def __enter__(self) -> CommandLines:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def command_lines() -> Iterator[CommandLines]:
    with CommandLines() as sampled:
        yield sampled


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    yield caplog


def secrets_of(github: Hub, settings: Settings) -> dict[str, str]:
    """Each secret by a name that says which it is, in each form it could leak."""
    found = {"webhook secret": settings.webhook_secret}
    for number, token in enumerate(github.world.tokens):
        found[f"token {number}"] = token
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        found[f"token {number} as a Basic header"] = basic
    key_lines = [
        line for line in settings.private_key.splitlines() if not line.startswith("-")
    ]
    found |= {f"private key line {n}": line for n, line in enumerate(key_lines)}
    return found


def bot_texts(github: Hub) -> list[str]:
    repo = github.world.repo(OWNER, NAME)
    texts = [
        comment.body
        for issue in repo.issues.values()
        for comment in issue.comments
        if comment.user is github.world.bot
    ]
    texts += [f"{pull.title}\n{pull.body}" for pull in bot_pulls(github)]
    texts.append(bare.git(repo.git_dir, "log", "--all", "--format=%B").decode())
    return texts


def files_under(folder: Path) -> list[str]:
    return [
        path.read_bytes().decode(errors="replace")
        for path in folder.rglob("*")
        if path.is_file()
    ]


def test_no_secret_reaches_logs_comments_git_argv_or_disk(
    github: Hub,
    sender: Sender,
    queue: JobQueue,
    clones: Clones,
    processes: Processes,
    command_lines: CommandLines,
    every_log: pytest.LogCaptureFixture,
    bot_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Were they to reach git, these would print the Authorization header.
    for variable in ("GIT_TRACE", "GIT_CURL_VERBOSE", "GIT_TRACE_CURL"):
        monkeypatch.setenv(variable, "1")
    monkeypatch.setenv("GIT_TRACE_REDACT", "0")
    repo = make_repo(github)
    answers = []

    def ask(comment: str = "/wandb-inject") -> str:
        issue = open_issue(github)
        answers.append(sender.comment(repo, issue.number, comment, MAINTAINER))
        run_jobs(queue)
        return status(github, repo, issue.number)

    opened = ask()
    github.api.fail_next("PATCH", f"/repos/{OWNER}/{NAME}/pulls/*", status=502)
    script = EXAMPLE.read_bytes().replace(b"default=1.0", b"default=0.5")
    github.world.push(OWNER, NAME, "main", {"train.py": script})
    retried = ask()
    attempts = queue.retries + 1
    github.api.fail_next("GET", f"/repos/{OWNER}/{NAME}", status=502, times=attempts)
    gave_up = ask()
    repo.default_branch = "gone"
    git_failed = ask()
    forged = sender.post("issue_comment", {}, secret="not the app's secret")

    assert "**PR opened:**" in opened and "**PR updated:**" in retried
    assert "**Failed:** GitHub answered 502" in gave_up
    assert "**Failed:** git clone failed" in git_failed
    assert forged.status_code == 401
    secrets = secrets_of(github, bot_settings)
    # Tokens really were handed to git, where they belong: in its environment.
    handed = "\n".join(str(env) for env in processes.environments)
    headers = [value for name, value in secrets.items() if name.endswith("header")]
    assert any(header in handed for header in headers)
    # The sampling saw the helpers git starts itself, which the argv list misses.
    assert any("remote-http" in line for line in command_lines.seen)
    logs = [every_log.text, *(repr(record.__dict__) for record in every_log.records)]
    places = {
        "logs": "\n".join(logs),
        "bot's comments, pull requests and commits": "\n".join(bot_texts(github)),
        "clones' .git/config": "\n".join(clone.git_config for clone in clones.seen),
        "argv": "\n".join(processes.argv),
        "command lines in /proc": "\n".join(command_lines.seen),
        "webhook answers": "\n".join(answer.text for answer in [*answers, forged]),
        "files on disk": "\n".join(files_under(tmp_path)),
    }
    assert len(clones.seen) == 3
    leaks = [
        f"{secret} in {place}"
        for secret, value in secrets.items()
        for place, text in places.items()
        if value in text
    ]
    assert leaks == []
