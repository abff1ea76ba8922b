"""Fixtures: real git repositories for the job and command tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakehub.fixtures import app_keys, bot_settings, fake_site, github  # noqa: F401
from gitrepos import ENGINE, ENTRY, EXAMPLE, MakeRepo, Repo


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
