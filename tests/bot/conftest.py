"""Fixtures: real git repositories for the job and command tests, and the app
served on loopback with its queue for the end-to-end flows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deliveries import Sender

# The fake's fixtures, imported to be found here; this file's own take them as
# arguments by the same names.
from fakehub.fixtures import Hub, app_keys, bot_settings, fake_site, github  # noqa: F401
from gitrepos import ENGINE, ENTRY, EXAMPLE, MakeRepo, Repo
from loopback import serve

from bot.app import create_app
from bot.queue import JobQueue, flow_handlers, open_queue
from bot.settings import Settings


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """A repository on branch main holding `files` in one commit, hooks installed."""

    def make(files: dict[str, bytes]) -> Repo:
        repo = Repo(tmp_path / f"repo{len(list(tmp_path.iterdir()))}")
        repo.root.mkdir()
        repo.git("init", "--quiet", "--initial-branch=main")
        for path, data in files.items():
            repo.write(path, data)
        repo.commit_all("Initial commit")
        repo.install_hooks()
        return repo

    return make


@pytest.fixture
def mnist_repo(make_repo: MakeRepo) -> Repo:
    return make_repo({"train.py": EXAMPLE.read_bytes(), "README.md": b"# Digits\n"})


@pytest.fixture
def entry_repo(make_repo: MakeRepo) -> Repo:
    return make_repo({"main.py": ENTRY, "engine.py": ENGINE})


@pytest.fixture
def sender(github: Hub, bot_settings: Settings) -> Iterator[Sender]:  # noqa: F811
    """Deliveries signed for the fake's app, posted to the app on loopback."""
    with serve(create_app(bot_settings)) as url:
        yield Sender(github, url)


@pytest.fixture
def queue(bot_settings: Settings) -> JobQueue:  # noqa: F811
    """The app's queue, opened again for the test to run its jobs."""
    return open_queue(bot_settings, flow_handlers(bot_settings))
