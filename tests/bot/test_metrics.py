"""GET /metrics: what deliveries and jobs did, read back by Prometheus' own parser."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
import webhook_payloads as payloads
from deliveries import Sender, asking_repo, run_jobs
from fakehub.fixtures import Hub
from loopback import serve
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from redis_server import RedisServer, own_redis_fixture  # noqa: F401 - a fixture

from bot.app import create_app
from bot.metrics import CONTENT_TYPE, DURATION_BUCKETS, Metrics
from bot.queue import flow_handlers, open_queue
from bot.settings import Settings
from bot.store import SqliteStore, open_store

OWNER, NAME, MAINTAINER = "acme", "digits", "alice"
Labels = tuple[tuple[str, str], ...]


def parsed(text: str) -> dict[str, dict[Labels, float]]:
    """Each sample's value by its name and labels, through prometheus_client."""
    found: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[_labels(sample)] = sample.value
    return found


def types(text: str) -> dict[str, str]:
    return {each.name: each.type for each in text_string_to_metric_families(text)}


def _labels(sample: Sample) -> Labels:
    return tuple(sorted(sample.labels.items()))


def series(**labels: str) -> Labels:
    return tuple(sorted(labels.items()))


@pytest.fixture
def metrics(tmp_path: Path) -> Iterator[Metrics]:
    store = SqliteStore(tmp_path / "state.db")
    yield Metrics(store)
    store.close()


def test_an_empty_exposition_still_names_and_types_every_family(
    metrics: Metrics,
) -> None:
    text = metrics.exposition()

    assert types(text) == {
        "wandb_inject_deliveries": "counter",
        "wandb_inject_jobs": "counter",
        "wandb_inject_job_duration_seconds": "histogram",
        "wandb_inject_pull_requests_opened": "counter",
        "wandb_inject_github_rate_limit_remaining": "gauge",
    }
    assert "# HELP wandb_inject_jobs_total Job attempts ended" in text
    assert parsed(text) == {}


def test_label_values_with_quotes_backslashes_and_newlines_survive(
    metrics: Metrics,
) -> None:
    awkward = 'say "hi"\\now\nthen'
    metrics.delivery(awkward, "rejected", "bad_signature")

    samples = parsed(metrics.exposition())["wandb_inject_deliveries_total"]

    labels = series(event=awkward, outcome="rejected", reason="bad_signature")
    assert samples == {labels: 1.0}


def test_job_durations_fill_cumulative_buckets_up_to_inf(metrics: Metrics) -> None:
    for seconds in (0.1, 0.7, 3.0, 3.0, 5000.0):
        metrics.job("pr_opened", seconds)
    metrics.job("failed", 0.2)

    samples = parsed(metrics.exposition())
    buckets = samples["wandb_inject_job_duration_seconds_bucket"]

    opened = {
        float(dict(labels)["le"]): value
        for labels, value in buckets.items()
        if dict(labels)["outcome"] == "pr_opened"
    }
    assert list(opened) == [*DURATION_BUCKETS, float("inf")]
    assert (opened[0.5], opened[1.0], opened[2.5], opened[5.0]) == (1, 2, 2, 4)
    assert (opened[600.0], opened[float("inf")]) == (4, 5)
    count = samples["wandb_inject_job_duration_seconds_count"]
    assert count == {series(outcome="pr_opened"): 5, series(outcome="failed"): 1}
    total = samples["wandb_inject_job_duration_seconds_sum"]
    assert total[series(outcome="pr_opened")] == pytest.approx(5006.8)
    jobs = samples["wandb_inject_jobs_total"]
    assert jobs == {series(outcome="pr_opened"): 5, series(outcome="failed"): 1}


def test_the_rate_limit_gauge_keeps_the_last_value_per_installation(
    metrics: Metrics,
) -> None:
    metrics.rate_limit(11, 4999)
    metrics.rate_limit(11, 4990)
    metrics.rate_limit(12, 120)

    gauge = parsed(metrics.exposition())["wandb_inject_github_rate_limit_remaining"]

    assert gauge == {series(installation="11"): 4990, series(installation="12"): 120}


class FlakyTally:
    """A tally in memory whose writes fail while `down`."""

    def __init__(self) -> None:
        self.down = False
        self.values: dict[str, float] = {}

    def add_to_tally(self, amounts: Mapping[str, float]) -> None:
        if self.down:
            raise ConnectionError("the store is down")
        for key, amount in amounts.items():
            self.values[key] = self.values.get(key, 0.0) + amount

    def set_in_tally(self, key: str, value: float) -> None:
        self.add_to_tally({key: value - self.values.get(key, 0.0)})

    def tally(self) -> dict[str, float]:
        return dict(self.values)


def test_deliveries_wait_in_memory_and_survive_a_failed_flush() -> None:
    tally = FlakyTally()
    metrics = Metrics(tally)
    metrics.delivery("issue_comment", "queued")
    metrics.delivery("issue_comment", "queued")
    assert tally.values == {}

    tally.down = True
    with pytest.raises(ConnectionError):
        metrics.flush()
    metrics.delivery("issue_comment", "queued")
    tally.down = False
    metrics.flush()

    [value] = tally.values.values()
    assert value == 3


def test_a_failing_store_costs_a_warning_not_the_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tally = FlakyTally()
    tally.down = True
    metrics = Metrics(tally)

    metrics.job("pr_opened", 1.5)
    metrics.pull_request_opened("issue_comment")
    metrics.rate_limit(11, 100)

    warnings = [r for r in caplog.records if r.getMessage() == "metrics not recorded"]
    assert len(warnings) == 3
    assert all(each.exc_info is not None for each in warnings)


def test_metrics_count_deliveries_and_the_jobs_a_separate_worker_ran(
    github: Hub, bot_settings: Settings
) -> None:
    world = github.world
    repo, issue = asking_repo(github, OWNER, NAME, MAINTAINER)
    installation = world.installation_for(repo.full_name)
    assert installation is not None
    # The worker's own Metrics and store, as another process would open them.
    worker_store = open_store(bot_settings)
    worker = Metrics(worker_store)
    queue = open_queue(
        bot_settings, flow_handlers(bot_settings, worker), metrics=worker
    )
    github.api.fail_next("GET", f"/repos/{OWNER}/{NAME}", status=502)

    with serve(create_app(bot_settings)) as url:
        sender = Sender(github, url)
        queued = sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
        again = httpx.post(
            f"{url}/webhook",
            content=queued.request.content,
            headers=queued.request.headers,
        )
        sender.comment(repo, issue.number, "thanks!", MAINTAINER)
        forged = payloads.comment_created("/wandb-inject")
        sender.post("issue_comment", forged, secret="not the app's secret")
        ran = run_jobs(queue)
        page = httpx.get(f"{url}/metrics")
    worker_store.close()

    assert (again.json()["outcome"], ran) == ("duplicate", 3)
    assert page.headers["content-type"] == CONTENT_TYPE
    samples = parsed(page.text)
    deliveries = samples["wandb_inject_deliveries_total"]
    assert deliveries == {
        series(event="issue_comment", outcome=outcome, reason=reason): 1
        for outcome, reason in [
            ("queued", ""),
            ("duplicate", ""),
            ("ignored", ""),
            ("rejected", "bad_signature"),
        ]
    }
    jobs = samples["wandb_inject_jobs_total"]
    assert jobs == {series(outcome="retried"): 1, series(outcome="pr_opened"): 1}
    durations = samples["wandb_inject_job_duration_seconds_count"]
    assert durations == jobs
    opened = samples["wandb_inject_pull_requests_opened_total"]
    assert opened == {series(trigger="issue_comment"): 1}
    gauge = samples["wandb_inject_github_rate_limit_remaining"]
    remaining = github.api.rate_limit_remaining(installation.id)
    assert gauge == {series(installation=str(installation.id)): remaining}
    assert remaining < 5000


def test_each_job_counts_under_the_outcome_its_status_comment_shows(
    github: Hub, bot_settings: Settings
) -> None:
    world = github.world
    repo, issue = asking_repo(github, OWNER, NAME, MAINTAINER)
    world.grant(OWNER, NAME, "mallory", "read")
    store = open_store(bot_settings)
    metrics = Metrics(store)
    queue = open_queue(
        bot_settings, flow_handlers(bot_settings, metrics), metrics=metrics
    )

    with serve(create_app(bot_settings)) as url:
        sender = Sender(github, url)
        for body, user in [
            ("/wandb-inject dry-run", MAINTAINER),
            ("/wandb-inject", "mallory"),
            ("/wandb-inject", MAINTAINER),
            ("/wandb-inject", MAINTAINER),
        ]:
            sender.comment(repo, issue.number, body, user)
            run_jobs(queue)
        samples = parsed(httpx.get(f"{url}/metrics").text)
    store.close()

    assert samples["wandb_inject_jobs_total"] == {
        series(outcome=outcome): 1
        for outcome in ("dry_run", "refused", "pr_opened", "pr_updated")
    }
    opened = samples["wandb_inject_pull_requests_opened_total"]
    assert opened == {series(trigger="issue_comment"): 1}


def test_metrics_answer_503_while_their_store_is_unreachable(
    tmp_path: Path, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        app_id=1,
        private_key="unused: nothing here talks to GitHub",
        webhook_secret=payloads.SECRET,
        queue_url=own_redis.url,
        github_api_url="https://api.github.com",
        listen_host="127.0.0.1",
        listen_port=8000,
        data_dir=tmp_path,
        bot_login="wandb-inject[bot]",
    )
    caplog.set_level(logging.WARNING, logger="bot.app")

    with serve(create_app(settings)) as url:
        before = httpx.get(f"{url}/metrics")
        own_redis.stop()
        after = httpx.get(f"{url}/metrics")

    assert before.status_code == 200
    assert (after.status_code, after.text) == (
        503,
        "metrics store unreachable: ConnectionError",
    )
