"""Pytest fixtures: the fake GitHub and its git remote on loopback, new worlds."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from loopback import serve
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.settings import Settings
from fakehub.keys import KeyPair, make_keys
from fakehub.remote import GitRemote
from fakehub.server import FakeGitHub
from fakehub.state import App, World
from fakehub.web import web_app

# githubkit caches tokens per app id and installation id for the whole process:
# a new app id for each world keeps one test's tokens from reaching the next.
APP_IDS = itertools.count(424242)
APP_SLUG = "wandb-inject"
BOT_LOGIN = f"{APP_SLUG}[bot]"
# Git is served under this path, and GitHub's web pages under WEB_PREFIX (as
# an Enterprise Server's web is apart from its API); everything else is the REST
# API, at the root as api.github.com has it.
GIT_PREFIX = "/git"
WEB_PREFIX = "/web"


@dataclass
class Site:
    """One ASGI app: the git remote under GIT_PREFIX, the REST API elsewhere."""

    api: FakeGitHub
    git: GitRemote
    url: str = ""
    web: ASGIApp = field(init=False)

    def __post_init__(self) -> None:
        self.web = web_app(self.api)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        try:
            if path.startswith(f"{GIT_PREFIX}/"):
                inner = {**scope, "path": path.removeprefix(GIT_PREFIX)}
                await self.git(inner, receive, send)
            elif path.startswith(f"{WEB_PREFIX}/"):
                await self.web({**scope, "root_path": WEB_PREFIX}, receive, send)
            else:
                await self.api(scope, receive, send)
        except Exception as error:
            # A bug of the fake's must fail the test, not pass for GitHub's 500.
            self.api.violations.append(f"the fake failed on {path}: {error!r}")
            raise

    def use(self, world: World) -> Hub:
        """Serve `world` from now on, with empty logs."""
        world.git_url = f"{self.url}{GIT_PREFIX}"
        self.api.reset(world)
        self.git.reset(world)
        return Hub(world, self.api, self.git, self.url)


@dataclass(frozen=True)
class Hub:
    """What a test gets: the world to seed, the API's log and faults, git's log."""

    world: World
    api: FakeGitHub
    git: GitRemote
    url: str

    @property
    def web_url(self) -> str:
        """GitHub's web side, apart from the API as an Enterprise Server's is."""
        return f"{self.url}{WEB_PREFIX}"


@pytest.fixture(scope="session")
def app_keys() -> KeyPair:
    """The App's RSA key pair; making one takes a while, so the session shares it."""
    return make_keys()


@pytest.fixture(scope="session")
def fake_site(
    app_keys: KeyPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The fake, served on a free loopback port in a thread for the whole session."""
    placeholder = new_world(app_keys, tmp_path_factory.mktemp("placeholder"))
    with served_site(placeholder) as site:
        yield site


@pytest.fixture
def github(fake_site: Site, app_keys: KeyPair, tmp_path: Path) -> Iterator[Hub]:
    """A fresh, empty world behind the fake; the test fails on any violation."""
    yield fake_site.use(new_world(app_keys, tmp_path / "github"))
    violations = list(fake_site.api.violations)
    if violations:
        pytest.fail("calls GitHub would reject:\n" + "\n".join(violations))


@contextmanager
def served_site(world: World) -> Iterator[Site]:
    """The fake serving `world` on a free loopback port until the block ends."""
    site = Site(FakeGitHub(world), GitRemote(world))
    with serve(site, lifespan="off") as url:
        site.url = site.api.url = url
        site.use(world)
        yield site


@pytest.fixture
def bot_settings(github: Hub, tmp_path: Path) -> Settings:
    return settings_for(github, tmp_path)


def new_world(keys: KeyPair, root: Path) -> World:
    root.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(16)
    app = App(next(APP_IDS), APP_SLUG, keys.private, keys.public, secret)
    return World(app, root)


def settings_for(hub: Hub, folder: Path) -> Settings:
    """The bot's settings pointing at `hub`, its queue and data in `folder`."""
    app = hub.world.app
    return Settings(
        app_id=app.id,
        private_key=app.private_key,
        webhook_secret=app.webhook_secret,
        queue_url=f"sqlite://{folder / 'queue.db'}",
        github_api_url=hub.url,
        listen_host="127.0.0.1",
        listen_port=8000,
        data_dir=folder / "data",
        bot_login=BOT_LOGIN,
    )
