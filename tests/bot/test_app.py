"""The web app: signed deliveries queued once, forged or broken ones refused, health."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import webhook_payloads as payloads
from redis_server import (  # noqa: F401 - fixtures, found by pytest when imported
    RedisServer,
    own_redis_fixture,
    redis_server_fixture,
    redis_url_fixture,
)
from starlette.testclient import TestClient
from support import eventually

import bot.app
from bot.app import create_app
from bot.queue import Handlers, JobQueue, open_queue
from bot.request import Arguments, Request, Trigger
from bot.settings import Settings
from bot.store import open_store

WAIT_SECONDS = 10.0
Post = Callable[..., httpx.Response]


class Recorder:
    """The handlers the app's queue runs, writing down each request."""

    def __init__(self) -> None:
        self.acknowledged: list[Request] = []
        self.processed: list[Request] = []

    def handlers(self) -> Handlers:
        return Handlers(self.acknowledged.append, self.processed.append, self.give_up)

    def give_up(self, request: Request, reason: str, attempts: int) -> None:
        raise AssertionError(f"no job here retries, yet {request} gave up: {reason}")


def settings_for(tmp_path: Path, queue_url: str | None = None) -> Settings:
    return Settings(
        app_id=1,
        private_key="unused: the handlers are the test's",
        webhook_secret=payloads.SECRET,
        queue_url=queue_url or f"sqlite://{tmp_path}/queue.db",
        github_api_url="https://api.github.com",
        listen_host="127.0.0.1",
        listen_port=8000,
        data_dir=tmp_path,
        bot_login="wandb-inject[bot]",
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, workers=0, handlers=Recorder().handlers())
    with TestClient(app) as client:
        yield client


@pytest.fixture
def queued(settings: Settings) -> Iterator[JobQueue]:
    """The app's queue as a worker opens it, to see what waits there."""
    queue = open_queue(settings, Recorder().handlers())
    yield queue
    queue.huey.storage.close()


@pytest.fixture
def post(client: TestClient) -> Post:
    """Posts a delivery, signed with the app's secret unless told otherwise."""

    def post_delivery(
        payload: dict[str, Any] | bytes,
        *,
        event: str = "issue_comment",
        delivery: str = "delivery-1",
        headers: dict[str, str | None] | None = None,
        content: bytes | Iterator[bytes] | None = None,
    ) -> httpx.Response:
        """`headers` replace the signed ones (None drops one); `content` the body."""
        body = payload if isinstance(payload, bytes) else payloads.encode(payload)
        sent = payloads.signed_headers(body, event, delivery)
        for name, value in (headers or {}).items():
            sent.pop(name, None)
            if value is not None:
                sent[name] = value
        return client.post("/webhook", content=content or body, headers=sent)

    return post_delivery


def command(body: str = "/wandb-inject dry-run") -> dict[str, Any]:
    return payloads.comment_created(body)


def run_queued_jobs(settings: Settings) -> Recorder:
    """Runs what the app queued on a worker of its own; returns what it saw."""
    recorder = Recorder()
    queue = open_queue(settings, recorder.handlers())
    consumer = queue.start_in_process(1)
    try:
        eventually(lambda: recorder.processed, "a job to run")
    finally:
        consumer.shut_down()
    return recorder


def test_signed_command_is_queued_as_one_job_with_its_request(
    post: Post, queued: JobQueue, settings: Settings
) -> None:
    payload = command()

    response = post(payload, delivery="delivery-42")

    assert response.status_code == 202
    assert response.json() == {"outcome": "queued", "reason": ""}
    assert queued.huey.pending_count() == 1
    request = Request(
        delivery_id="delivery-42",
        installation_id=payloads.INSTALLATION["id"],
        owner="Codertocat",
        repo="Hello-World",
        trigger=Trigger.ISSUE_COMMENT,
        number=payload["issue"]["number"],
        requested_by="Codertocat",
        comment_id=payload["comment"]["id"],
        arguments=Arguments(dry_run=True),
    )
    recorder = run_queued_jobs(settings)
    assert (recorder.acknowledged, recorder.processed) == ([request], [request])


def test_label_request_is_queued(post: Post, queued: JobQueue) -> None:
    response = post(payloads.issue_labeled("wandb-inject"), event="issues")

    assert response.status_code == 202
    assert queued.huey.pending_count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Hub-Signature-256": None}, id="unsigned"),
        pytest.param({"X-Hub-Signature-256": ""}, id="empty-signature"),
        pytest.param({"X-Hub-Signature-256": "sha256=" + "0" * 64}, id="zeros"),
    ],
)
def test_unsigned_or_forged_delivery_is_refused_and_queues_nothing(
    post: Post, queued: JobQueue, headers: dict[str, str | None]
) -> None:
    response = post(command(), headers=headers)

    assert response.status_code == 401
    assert response.json()["outcome"] == "rejected"
    assert queued.huey.pending_count() == 0


def test_delivery_signed_with_the_wrong_secret_is_refused(
    client: TestClient, queued: JobQueue
) -> None:
    body = payloads.encode(command())
    headers = payloads.signed_headers(body, "issue_comment", "d-1", "not ours")

    response = client.post("/webhook", content=body, headers=headers)

    assert response.status_code == 401
    assert queued.huey.pending_count() == 0


def test_truncated_body_is_refused(post: Post, queued: JobQueue) -> None:
    body = payloads.encode(command())

    response = post(body, content=body[:-20])

    assert response.status_code == 401
    assert queued.huey.pending_count() == 0


def test_forged_delivery_does_not_use_up_its_delivery_id(
    post: Post, queued: JobQueue
) -> None:
    post(command(), headers={"X-Hub-Signature-256": None})

    response = post(command())

    assert response.status_code == 202
    assert queued.huey.pending_count() == 1


@pytest.mark.parametrize(
    ("body", "headers", "says"),
    [
        pytest.param(
            None,
            {"Content-Type": "application/x-www-form-urlencoded"},
            "content type",
            id="form-encoded",
        ),
        pytest.param(None, {"Content-Type": None}, "content type", id="no-type"),
        pytest.param(b'{"action": "created"', {}, "not JSON", id="malformed-json"),
        pytest.param(b"\xff\xfe{}", {}, "not JSON", id="not-utf8"),
        pytest.param(b"[]", {}, "not a JSON object", id="json-array"),
        pytest.param(
            None, {"X-GitHub-Delivery": None}, "X-GitHub-Delivery", id="no-id"
        ),
        pytest.param(None, {"X-GitHub-Event": None}, "X-GitHub-Event", id="no-event"),
        pytest.param(b'{"action": "created"}', {}, "payload has no", id="no-fields"),
    ],
)
def test_signed_but_broken_delivery_is_a_bad_request(
    post: Post,
    queued: JobQueue,
    body: bytes | None,
    headers: dict[str, str | None],
    says: str,
) -> None:
    response = post(body or command(), headers=headers)

    assert response.status_code == 400
    assert says in response.json()["reason"]
    assert queued.huey.pending_count() == 0


@pytest.mark.parametrize(
    "chunked",
    [pytest.param(False, id="declared-length"), pytest.param(True, id="chunked")],
)
def test_body_over_the_limit_is_refused(
    post: Post, queued: JobQueue, monkeypatch: pytest.MonkeyPatch, chunked: bool
) -> None:
    monkeypatch.setattr(bot.app, "MAX_BODY_BYTES", 1000)
    body = payloads.encode(command())
    assert len(body) > 1000
    content = iter([body[:600], body[600:]]) if chunked else body

    response = post(body, content=content)

    assert response.status_code == 413
    assert queued.huey.pending_count() == 0


def test_body_at_the_limit_is_accepted(
    post: Post, queued: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = payloads.encode(command())
    monkeypatch.setattr(bot.app, "MAX_BODY_BYTES", len(body))

    assert post(body, content=iter([body[:600], body[600:]])).status_code == 202


@pytest.mark.parametrize(
    ("event", "payload", "reason"),
    [
        pytest.param(
            "ping",
            lambda: payloads.example("ping", None),
            "ping: not handled",
            id="ping",
        ),
        pytest.param(
            "issue_comment",
            lambda: command("thanks, looks good"),
            "does not start with /wandb-inject",
            id="no-command",
        ),
        pytest.param(
            "issues",
            lambda: payloads.issue_labeled("bug"),
            "not 'wandb-inject'",
            id="other-label",
        ),
    ],
)
def test_deliveries_that_ask_nothing_are_ignored(
    post: Post,
    queued: JobQueue,
    event: str,
    payload: Callable[[], dict[str, Any]],
    reason: str,
) -> None:
    response = post(payload(), event=event)

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    assert reason in response.json()["reason"]
    assert queued.huey.pending_count() == 0


def test_same_delivery_twice_is_queued_once(post: Post, queued: JobQueue) -> None:
    first = post(command(), delivery="delivery-7")

    again = post(command(), delivery="delivery-7")

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["outcome"] == "duplicate"
    assert queued.huey.pending_count() == 1


def test_a_signed_body_replayed_under_a_new_delivery_id_is_queued_once(
    post: Post, queued: JobQueue
) -> None:
    first = post(command(), delivery="delivery-7")

    replayed = post(command(), delivery="delivery-8")

    assert (first.status_code, replayed.status_code) == (202, 200)
    assert replayed.json()["outcome"] == "duplicate"
    assert queued.huey.pending_count() == 1


def test_installation_events_update_the_store_and_queue_nothing(
    post: Post, queued: JobQueue, settings: Settings
) -> None:
    created = payloads.installation_created()
    installation = created["installation"]["id"]
    added = payloads.repositories_changed("added")
    removed = payloads.repositories_changed("removed")
    removed["repositories_removed"][0]["full_name"] = "Codertocat/Hello-World"
    deleted = payloads.installation_deleted()
    for payload in (added, removed, deleted):
        payload["installation"]["id"] = installation
    store = open_store(settings)
    seen = []

    steps = [
        ("installation", created),
        ("installation_repositories", added),
        ("installation_repositories", removed),
        ("installation", deleted),
    ]
    for number, (event, payload) in enumerate(steps):
        response = post(payload, event=event, delivery=f"delivery-{number}")
        assert response.json()["outcome"] == "installation updated"
        seen.append(store.repositories(installation))

    store.close()
    assert seen == [
        ["Codertocat/Hello-World"],
        ["Codertocat/Hello-World", "Codertocat/Space"],
        ["Codertocat/Space"],
        [],
    ]
    assert queued.huey.pending_count() == 0


def test_failed_enqueue_answers_500_and_a_redelivery_is_queued(
    post: Post, queued: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue = JobQueue.enqueue
    failures = [RuntimeError("database is locked")]

    def enqueue_failing_once(self: JobQueue, request: Request) -> None:
        if failures:
            raise failures.pop()
        enqueue(self, request)

    monkeypatch.setattr(JobQueue, "enqueue", enqueue_failing_once)

    failed = post(command(), delivery="delivery-9")
    redelivered = post(command(), delivery="delivery-9")

    assert failed.status_code == 500
    assert "redeliver" in failed.json()["reason"]
    assert redelivered.status_code == 202
    assert queued.huey.pending_count() == 1


def test_app_with_workers_runs_the_jobs_it_queues(settings: Settings) -> None:
    recorder = Recorder()
    app = create_app(settings, workers=1, handlers=recorder.handlers())
    body = payloads.encode(command())
    headers = payloads.signed_headers(body, "issue_comment", "delivery-w")

    with TestClient(app) as client:
        response = client.post("/webhook", content=body, headers=headers)
        eventually(lambda: recorder.processed, "the job to run")

    assert response.status_code == 202
    assert [request.delivery_id for request in recorder.processed] == ["delivery-w"]


def test_health_and_readiness_on_sqlite(client: TestClient) -> None:
    health = client.get("/healthz")
    ready = client.get("/readyz")

    assert (health.status_code, health.text) == (200, "ok")
    assert (ready.status_code, ready.text) == (200, "ready")


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        pytest.param(401, {"X-Hub-Signature-256": None}, b"{}", id="401"),
        pytest.param(400, {}, b"[1, 2]", id="400"),
        pytest.param(413, {}, b"x" * 2000, id="413"),
    ],
)
def test_every_refusal_logs_one_warning_with_the_delivery(
    post: Post,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    headers: dict[str, str | None],
    body: bytes,
) -> None:
    monkeypatch.setattr(bot.app, "MAX_BODY_BYTES", 1000)
    caplog.set_level(logging.INFO, logger="bot.app")

    response = post(body, delivery="delivery-13", headers=headers)

    assert response.status_code == status
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert (warning.name, warning.getMessage()) == ("bot.app", "webhook answered")
    assert warning.delivery == "delivery-13"  # type: ignore[attr-defined]
    assert warning.status == status  # type: ignore[attr-defined]


def test_delivery_is_queued_in_redis(tmp_path: Path, redis_url: str) -> None:
    settings = settings_for(tmp_path, redis_url)
    body = payloads.encode(command())
    headers = payloads.signed_headers(body, "issue_comment", "delivery-r")
    app = create_app(settings, handlers=Recorder().handlers())

    with TestClient(app) as client:
        first = client.post("/webhook", content=body, headers=headers)
        again = client.post("/webhook", content=body, headers=headers)

    assert (first.status_code, again.status_code) == (202, 200)
    queue = open_queue(settings, Recorder().handlers())
    assert queue.huey.pending_count() == 1
    assert not (tmp_path / "queue.db").exists()
    assert not (tmp_path / "state.db").exists()


def test_shutdown_lets_go_of_every_redis_connection(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    # A server of its own: no other test's connections come and go meanwhile.
    redis_url = own_redis.url
    watcher = own_redis.client()

    def connected() -> int:
        # The watcher's own connection is one of them.
        return int(watcher.info("clients")["connected_clients"])

    before = connected()
    app = create_app(settings_for(tmp_path, redis_url), handlers=Recorder().handlers())
    with TestClient(app) as client:
        body = payloads.encode(command())
        headers = payloads.signed_headers(body, "issue_comment", "delivery-c")
        assert client.post("/webhook", content=body, headers=headers).status_code == 202
        during = connected()

    assert before == 1
    assert during > before
    assert connected() == before
    watcher.close()


def test_readiness_fails_with_a_reason_once_redis_is_gone(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    app = create_app(settings_for(tmp_path, own_redis.url), handlers=None)

    with TestClient(app) as client:
        before = client.get("/readyz")
        own_redis.stop()
        after = client.get("/readyz")

    assert before.status_code == 200
    assert after.status_code == 503
    assert after.text == "queue unreachable: ConnectionError"
