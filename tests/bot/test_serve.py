"""`wandb-inject serve` and `worker` as real processes: settings, answers, shutdown."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deliveries import Sender, asking_repo
from fakehub.fixtures import Hub
from processes import (
    START_SECONDS,
    answering,
    environment,
    log_entries,
    start,
    stop,
    stopped_cleanly,
)
from prometheus_client.parser import text_string_to_metric_families
from redis_server import redis_server_fixture, redis_url_fixture  # noqa: F401
from support import eventually


@pytest.fixture
def served(tmp_path: Path, github: Hub) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    env = environment(tmp_path, github)
    process = start("serve", env)
    try:
        yield f"http://{env['WANDB_INJECT_LISTEN']}", process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize(
    ("command", "given"),
    [
        # serve with none registers the app instead: test_registration_browser.py.
        pytest.param("worker", {}, id="worker-without-any"),
        pytest.param("serve", {"WANDB_INJECT_APP_ID": "7"}, id="serve-with-some"),
    ],
)
def test_without_credentials_the_command_names_every_missing_one(
    tmp_path: Path, command: str, given: dict[str, str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_INJECT")}
    env |= {"WANDB_INJECT_DATA_DIR": str(tmp_path / "data")} | given

    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
        check=False,
    )

    assert done.returncode == 2
    for name in ("PRIVATE_KEY", "WEBHOOK_SECRET"):
        assert f"WANDB_INJECT_{name}" in done.stderr
    assert ("WANDB_INJECT_APP_ID" in done.stderr) == (not given)
    assert done.stderr.startswith("wandb-inject: error: the app's settings")


def test_serve_runs_the_app_and_its_jobs_in_one_process(
    served: tuple[str, subprocess.Popen[str]], github: Hub
) -> None:
    url, process = served
    world = github.world
    repo, issue = asking_repo(github, "acme", "digits", "alice")

    health = answering(f"{url}/healthz", process)
    ready = httpx.get(f"{url}/readyz")
    queued = Sender(github, url).comment(repo, issue.number, "/wandb-inject", "alice")
    eventually(lambda: world.pulls("acme", "digits"), "the pull request", START_SECONDS)
    code, output = stop(process)

    assert (health.status_code, health.text) == (200, "ok")
    assert (ready.status_code, ready.text) == (200, "ready")
    assert queued.status_code == 202
    assert stopped_cleanly(code, output), output
    # Off a terminal, every line is a JSON object.
    entries = log_entries(output)
    delivery = queued.request.headers["x-github-delivery"]
    [answered] = [each for each in entries if each["message"] == "webhook answered"]
    assert (answered["delivery"], answered["outcome"]) == (delivery, "queued")
    [done] = [each for each in entries if each["message"] == "job done"]
    assert (done["delivery"], done["repo"], done["outcome"]) == (
        delivery,
        "acme/digits",
        "pr_opened",
    )
    # Nothing secret is ever logged.
    assert world.app.webhook_secret not in output
    assert "PRIVATE KEY" not in output
    assert not any(token in output for token in world.tokens)


def test_on_redis_the_web_process_queues_and_a_worker_process_runs_the_job(
    tmp_path: Path, github: Hub, redis_url: str
) -> None:
    env = environment(tmp_path, github, WANDB_INJECT_QUEUE=redis_url)
    web, worker = start("serve", env), start("worker", env)
    url = f"http://{env['WANDB_INJECT_LISTEN']}"
    world = github.world
    repo, issue = asking_repo(github, "acme", "digits", "alice")
    try:
        answering(f"{url}/readyz", web)
        Sender(github, url).comment(repo, issue.number, "/wandb-inject", "alice")
        eventually(
            lambda: world.pulls("acme", "digits"), "the pull request", START_SECONDS
        )
        # The worker counts the job once it has commented on the outcome.
        eventually(lambda: job_counts(metrics_page(url)), "its count", START_SECONDS)
        page = metrics_page(url)
    finally:
        web_code, web_output = stop(web)
        worker_code, worker_output = stop(worker)

    assert stopped_cleanly(web_code, web_output), web_output
    assert worker_code == 0 and "Traceback" not in worker_output, worker_output
    assert "job done" not in web_output
    assert "job done" in worker_output
    # The worker's counts reach the web process's page through Redis.
    assert job_counts(page) == {"pr_opened": 1.0}
    families = {each.name: each for each in text_string_to_metric_families(page)}
    [opened] = families["wandb_inject_pull_requests_opened"].samples
    assert (opened.labels, opened.value) == ({"trigger": "issue_comment"}, 1.0)
    [remaining] = families["wandb_inject_github_rate_limit_remaining"].samples
    installation = world.installation_for("acme/digits")
    assert installation is not None
    assert remaining.labels == {"installation": str(installation.id)}
    assert remaining.value == github.api.rate_limit_remaining(installation.id)


def metrics_page(url: str) -> str:
    return httpx.get(f"{url}/metrics").text


def job_counts(page: str) -> dict[str, float]:
    """The job counts on a /metrics page, by outcome."""
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(page)
        if family.name == "wandb_inject_jobs"
        for sample in family.samples
    }
