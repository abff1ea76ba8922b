"""deploy/compose.yaml, as Docker Compose itself renders it, wired to the app."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from deployment import (
    DEPLOY,
    ROOT,
    environment_tool,
    image_environment,
    unknown_settings,
)
from fakehub.fixtures import make_keys

from bot.cli import build_parser
from bot.queue import SHUTDOWN_SECONDS
from bot.settings import Settings, SettingsError

APP_SERVICES = ("web", "worker")
KEY_FILE = "github-app.pem"


def render(project: Path) -> subprocess.CompletedProcess[str]:
    """`docker compose config` on the project's compose.yaml; needs no daemon."""
    compose = environment_tool("docker-compose")
    return subprocess.run(
        [
            compose,
            "--file",
            str(project / "compose.yaml"),
            "config",
            "--format",
            "json",
        ],
        # Nothing of ours leaks in: compose would substitute variables from it.
        env={"PATH": "/usr/bin:/bin", "HOME": str(project)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/ as a user sets it up: .env from example.env, and the app's key."""
    folder = tmp_path_factory.mktemp("checkout") / "deploy"
    folder.mkdir()
    shutil.copy(DEPLOY / "compose.yaml", folder)
    shutil.copy(DEPLOY / "example.env", folder / ".env")
    (folder / KEY_FILE).write_text(make_keys().private)
    return folder


@pytest.fixture(scope="module")
def config(project: Path) -> dict[str, Any]:
    done = render(project)
    assert done.returncode == 0, done.stderr
    rendered: dict[str, Any] = json.loads(done.stdout)
    return rendered


def test_compose_refuses_a_misspelled_key(tmp_path: Path, project: Path) -> None:
    broken = tmp_path / "deploy"
    shutil.copytree(project, broken)
    text = (broken / "compose.yaml").read_text()
    (broken / "compose.yaml").write_text(text.replace("restart:", "restrat:", 1))

    done = render(broken)

    assert done.returncode != 0
    assert "restrat" in done.stderr


def test_the_services_run_commands_the_cli_has(config: dict[str, Any]) -> None:
    services = config["services"]

    assert set(services) == {*APP_SERVICES, "redis"}
    assert services["web"]["command"] == ["serve", "--web-only"]
    assert services["worker"]["command"] == ["worker"]
    for name in APP_SERVICES:
        args = build_parser().parse_args(services[name]["command"])
        assert args.handler.__name__ == f"run_{services[name]['command'][0]}"


def test_every_variable_is_a_setting_the_app_reads(config: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        assert unknown_settings(config["services"][name]["environment"]) == [], name


@pytest.mark.parametrize("name", APP_SERVICES)
def test_settings_load_from_what_the_container_gets(
    name: str, config: dict[str, Any], project: Path
) -> None:
    service = config["services"][name]
    environment = container_environment(service, config, project)
    filled = environment | {
        "WANDB_INJECT_APP_ID": "12345",
        "WANDB_INJECT_WEBHOOK_SECRET": "s3cret",
    }

    settings = Settings.from_environment(filled)
    queue = urlsplit(settings.queue_url)

    assert settings.private_key == (project / KEY_FILE).read_text().strip()
    assert settings.uses_redis
    assert (queue.hostname, queue.port) == ("redis", 6379)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_example_envs_placeholders_stop_the_app(
    name: str, config: dict[str, Any], project: Path
) -> None:
    environment = container_environment(config["services"][name], config, project)

    with pytest.raises(SettingsError, match="WANDB_INJECT_APP_ID: expected"):
        Settings.from_environment(environment)


def container_environment(
    service: dict[str, Any], config: dict[str, Any], project: Path
) -> dict[str, str]:
    """The variables it starts with, its secret's path pointing at the host's file."""
    environment = image_environment() | service["environment"]
    (mounted,) = service["secrets"]
    assert environment["WANDB_INJECT_PRIVATE_KEY_PATH"] == mounted["target"]
    source = config["secrets"][mounted["source"]]["file"]
    assert Path(source) == project / KEY_FILE
    environment["WANDB_INJECT_PRIVATE_KEY_PATH"] = source
    return dict(environment)


def test_redis_keeps_the_queue_on_a_volume_and_the_app_waits_for_it(
    config: dict[str, Any],
) -> None:
    redis = config["services"]["redis"]
    (volume,) = redis["volumes"]

    assert redis["command"][-2:] == ["--appendonly", "yes"]
    assert (volume["type"], volume["target"]) == ("volume", "/data")
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for name in APP_SERVICES:
        condition = config["services"][name]["depends_on"]["redis"]["condition"]
        assert condition == "service_healthy", name


def test_every_service_restarts(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        assert service["restart"] == "unless-stopped", name


def test_web_publishes_its_port_and_keeps_the_images_healthcheck(
    config: dict[str, Any],
) -> None:
    web = config["services"]["web"]
    (port,) = web["ports"]
    listen = image_environment()["WANDB_INJECT_LISTEN"]

    assert str(port["target"]) == listen.rpartition(":")[2]
    # The image's HEALTHCHECK asks /healthz (tests/deploy/test_dockerfile.py).
    assert "healthcheck" not in web


def test_worker_has_no_http_check_and_time_to_finish_its_jobs(
    config: dict[str, Any],
) -> None:
    worker = config["services"]["worker"]

    assert worker["healthcheck"] == {"disable": True}
    assert float(worker["stop_grace_period"].removesuffix("s")) > SHUTDOWN_SECONDS


def test_app_containers_write_only_to_tmp_and_volumes(config: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        service = config["services"][name]

        assert service["read_only"] is True
        assert service["tmpfs"] == ["/tmp"]
        assert service["cap_drop"] == ["ALL"]


def test_it_builds_the_image_from_the_checkout(
    config: dict[str, Any], project: Path
) -> None:
    for name in APP_SERVICES:
        build = config["services"][name]["build"]

        assert Path(build["context"]) == project.parent
        assert (ROOT / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile")


@pytest.mark.parametrize("name", [".env", KEY_FILE])
def test_git_never_takes_the_filled_in_files(name: str) -> None:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "--quiet", f"deploy/{name}"],
        check=False,
        timeout=30,
    )

    assert done.returncode == 0, f"deploy/{name} is not ignored"
