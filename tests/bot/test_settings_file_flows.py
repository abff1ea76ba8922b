"""A broken settings file end to end: a clear comment, and no job half-configured."""

from __future__ import annotations

from pathlib import Path

import hostile
import pytest
from deliveries import Sender
from fakehub.fixtures import Hub
from hostile import LINK, Clones, Entry
from test_flows import bot_pulls
from test_hostile_repos import ask, hostile_repo

from bot.queue import JobQueue
from bot.repo_config import CONFIG_PATH

clones = hostile.clones

STOPPED = "**Stopped:** the settings file has problems:\n\n"


@pytest.mark.parametrize(
    ("entry", "problems"),
    [
        pytest.param(
            Entry(CONFIG_PATH, "project: digits\npaths: [src\n"),
            ["is not valid YAML on line 3"],
            id="syntax",
        ),
        pytest.param(
            Entry(CONFIG_PATH, "project: 3\nlog_every: yes\ncolour: red\n"),
            ["unknown key 'colour'", "project: expected", "log_every: expected"],
            id="types-and-unknown-keys",
        ),
        pytest.param(
            Entry(CONFIG_PATH, "/etc/passwd", LINK),
            ["must be a regular file, not a link"],
            id="link-to-passwd",
        ),
        pytest.param(
            Entry(CONFIG_PATH, "[" * 1_000 + "]" * 1_000),
            ["is nested too deeply to read"],
            id="nested-too-deeply",
        ),
    ],
)
def test_a_broken_settings_file_stops_the_job_before_it_changes_anything(
    github: Hub,
    sender: Sender,
    queue: JobQueue,
    clones: Clones,
    entry: Entry,
    problems: list[str],
) -> None:
    repo = hostile_repo(github, [entry])

    text = ask(github, sender, queue, repo)

    said = text.partition("\n")[2]
    assert said.startswith(STOPPED)
    listed = said.removeprefix(STOPPED).split("\n- ")
    assert len(listed) == len(problems)
    for line, problem in zip(listed, problems, strict=True):
        assert CONFIG_PATH in line and problem in line
    assert Path("/etc/passwd").read_text().splitlines()[0] not in text
    assert bot_pulls(github) == []
    assert repo.branch_sha("wandb-inject/main") is None
    assert not any("receive-pack" in r.target for r in github.git.requests)
    assert len(clones.seen) == 1
