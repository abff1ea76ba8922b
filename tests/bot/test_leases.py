"""Leases: a task taken by a worker that died is queued again, once, and its
repository lock does not outlive it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from redis_server import (  # noqa: F401 - fixtures, found by pytest when imported
    RedisServer,
    persistent_redis_fixture,
    redis_server_fixture,
    redis_url_fixture,
)
from support import eventually
from test_queue import (
    Backend,
    Recorder,
    redis_backend,
    request_for,
    sqlite,  # noqa: F401 - a fixture
    start,  # noqa: F401 - a fixture
)

import bot.leases
from bot.leases import LEASE_SECONDS
from bot.queue import InProcessConsumer

WAIT_SECONDS = 10.0


def die_holding(backend: Backend, recorder: Recorder, steps: int) -> None:
    """A worker takes the request's tasks, runs `steps` of them, takes the
    next and dies before it ends: no ack, no cleanup."""
    dying = backend.queue(recorder)
    dying.enqueue(request_for())
    for _ in range(steps):
        dying.huey.execute(dying.huey.dequeue())
    assert dying.huey.dequeue() is not None
    dying.huey.storage.close()


@pytest.mark.parametrize("steps", [0, 1], ids=["in-acknowledgement", "in-job"])
def test_a_sqlite_consumer_starting_runs_what_a_dead_one_had_taken(
    sqlite: Backend,  # noqa: F811
    start: Callable[..., InProcessConsumer],  # noqa: F811
    steps: int,
) -> None:
    die_holding(sqlite, Recorder(), steps)
    recorder = Recorder()
    queue = sqlite.queue(recorder)
    assert queue.huey.pending_count() == 0

    start(queue)

    [call] = recorder.wait_for("process", 1)
    assert call.request == request_for()
    assert len(recorder.steps("acknowledge")) == 1 - steps
    eventually(lambda: queue.huey.storage.result_items() == {}, "no leases left")


def test_a_redis_worker_runs_what_a_dead_one_had_taken_once_its_lease_ends(
    redis_url: str,
    start: Callable[..., InProcessConsumer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.leases, "RENEW_SECONDS", 0.1)
    backend = redis_backend(redis_url)
    die_holding(backend, Recorder(), steps=1)
    recorder = Recorder()
    queue = backend.queue(recorder)
    # Other workers may be alive: a lease still running is theirs to finish.
    assert queue.leases is not None and queue.leases.recover() == 0
    leases = queue.huey.storage.result_items()
    [(key, raw)] = leases.items()
    record = queue.huey.serializer.deserialize(raw)
    record["until"] -= LEASE_SECONDS
    queue.huey.put(key, record)

    start(queue)
    start(backend.queue(Recorder()))

    [call] = recorder.wait_for("process", 1)
    assert call.request == request_for()
    eventually(lambda: queue.huey.storage.result_items() == {}, "no leases left")


def test_a_live_worker_keeps_its_lease_and_lock_past_their_time(
    redis_url: str,
    start: Callable[..., InProcessConsumer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.leases, "RENEW_SECONDS", 0.1)
    release = threading.Event()
    recorder = Recorder(process_script=lambda request, attempt: release.wait())
    short = Backend(redis_backend(redis_url).make_huey, lock_seconds=1)
    queue = short.queue(recorder)
    assert queue.leases is not None
    queue.leases.seconds = 1
    start(queue)
    queue.enqueue(request_for())
    eventually(lambda: recorder.steps("process"), "the job to start")

    # Twice the lease's time: only renewal keeps the lease and the lock.
    time.sleep(2)
    other = short.queue(Recorder())
    assert other.leases is not None and other.leases.recover() == 0
    assert queue.huey.is_locked(f"repo:{request_for().full_name}")
    release.set()

    assert len(recorder.wait_for("process", 1)) == 1
    eventually(lambda: queue.huey.storage.result_items() == {}, "no leases left")


def test_a_job_ending_while_redis_is_down_runs_again_once_it_is_back(
    persistent_redis: RedisServer,
    start: Callable[..., InProcessConsumer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(bot.leases, "RENEW_SECONDS", 0.1)

    def outage_at_the_end(request: object, attempt: int) -> None:
        if attempt == 0:
            persistent_redis.stop()

    recorder = Recorder(process_script=outage_at_the_end)
    short = Backend(redis_backend(persistent_redis.url).make_huey, lock_seconds=1)
    queue = short.queue(recorder)
    assert queue.leases is not None
    queue.leases.seconds = 1
    start(queue)
    queue.enqueue(request_for())
    # huey's worker reports the task's end, lease and all, could not be written.
    eventually(
        lambda: any("Unhandled error" in each.getMessage() for each in caplog.records),
        "the end of the job to fail",
    )

    persistent_redis.start_stopped()

    assert len(recorder.wait_for("process", 2)) == 2
    eventually(lambda: queue.huey.storage.result_items() == {}, "no leases left")
