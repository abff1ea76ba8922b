"""What the deployment files are checked against: the app's settings, routes, image."""

from __future__ import annotations

import contextlib
import shutil
import sysconfig
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.routing import Route
from support import MISSING_TOOL, require_module

from bot.app import create_app
from bot.settings import PREFIX, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"
INSTALL_TEST_EXTRA = "pip install -e '.[test]'"


class _Recording(dict[str, str]):
    """An empty environment that notes every variable asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


@cache
def settings_names() -> frozenset[str]:
    """Every WANDB_INJECT_* variable that Settings.from_environment reads."""
    environ = _Recording()
    # Empty, the environment lacks required settings; every one is still read.
    with contextlib.suppress(SettingsError):
        Settings.from_environment(environ)
    return frozenset(name for name in environ.asked if name.startswith(PREFIX))


def unknown_settings(names: Iterable[str]) -> list[str]:
    """The names among `names` that the app never reads: typos, or stale ones."""
    return sorted(set(names) - settings_names())


def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings for the web app alone, its queue and state in tmp_path."""
    return Settings(
        app_id=1,
        private_key="unused: no job runs",
        webhook_secret="unused: no delivery comes",
        queue_url=f"sqlite://{tmp_path}/queue.db",
        github_api_url="https://api.github.com",
        listen_host="127.0.0.1",
        listen_port=8000,
        data_dir=tmp_path,
    )


def served_get_paths(tmp_path: Path) -> set[str]:
    """The paths the web app answers GET on."""
    app = create_app(sqlite_settings(tmp_path))
    return {
        route.path
        for route in app.routes
        if isinstance(route, Route) and "GET" in (route.methods or ())
    }


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def dockerfile() -> Any:
    """The image's Dockerfile, parsed; its ENV and the like are its final stage's."""
    require_module("dockerfile_parse", INSTALL_TEST_EXTRA)
    from dockerfile_parse import DockerfileParser

    return DockerfileParser(str(DOCKERFILE))


def image_environment() -> dict[str, str]:
    """What the image's ENV lines set, as every container of it starts with."""
    return dict(dockerfile().envs)


def environment_tool(name: str) -> str:
    """A tool that the test extra installs beside this interpreter, or on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{MISSING_TOOL} {name!r}: install it with {INSTALL_TEST_EXTRA}")
    return found
