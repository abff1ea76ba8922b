"""The job queue on SQLite and Redis, run by consumer threads: order, retries, locks."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from huey.api import Huey
from redis_server import (  # noqa: F401 - fixtures, found by pytest when imported
    redis_server_fixture,
    redis_url_fixture,
)
from support import eventually

import bot.queue
from bot.leases import LeasedRedisHuey, LeasedSqliteHuey
from bot.queue import (
    QUEUE_NAME,
    REDIS_LOCK_SECONDS,
    Handlers,
    InProcessConsumer,
    JobQueue,
    RetryLater,
)
from bot.request import Arguments, Request, Trigger

WAIT_SECONDS = 10.0
SHORT_DELAY = 0.05
RETRIES = 2


def request_for(repo: str = "models", delivery: str = "delivery-1") -> Request:
    return Request(
        delivery_id=delivery,
        installation_id=4242,
        owner="octo-org",
        repo=repo,
        trigger=Trigger.PR_COMMENT,
        number=7,
        requested_by="alice",
        comment_id=99,
        arguments=Arguments(dry_run=True, paths=("src/train.py",), project="digits"),
    )


@dataclass
class Call:
    step: str
    request: Request
    started: float
    ended: float = 0.0


# Called with the request and how many calls of its step came before.
Script = Callable[[Request, int], None]


@dataclass
class Recorder:
    """Handlers that write down each call; `process` runs a script the test sets."""

    process_script: Script | None = None
    acknowledge_script: Script | None = None
    calls: list[Call] = field(default_factory=list)
    # What each give_up call reported: the request, the reason, the attempts.
    gave_up: list[tuple[Request, str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handlers(self) -> Handlers:
        return Handlers(self._acknowledge, self._process, self._give_up)

    def steps(self, step: str) -> list[Call]:
        return [call for call in list(self.calls) if call.step == step]

    def wait_for(self, step: str, count: int) -> list[Call]:
        """The step's calls, once `count` of them have returned or raised."""

        def finished() -> bool:
            return sum(call.ended > 0 for call in self.steps(step)) >= count

        eventually(finished, f"{count} {step} calls")
        return self.steps(step)

    def _acknowledge(self, request: Request) -> None:
        self._run("acknowledge", request, self.acknowledge_script)

    def _process(self, request: Request) -> None:
        self._run("process", request, self.process_script)

    def _give_up(self, request: Request, reason: str, attempts: int) -> None:
        self.gave_up.append((request, reason, attempts))

    def _run(self, step: str, request: Request, script: Script | None) -> None:
        with self._lock:
            attempt = len(self.steps(step))
            call = Call(step, request, time.monotonic())
            self.calls.append(call)
        try:
            if script:
                script(request, attempt)
        finally:
            call.ended = time.monotonic()


@dataclass
class Backend:
    """Makes hueys on one store, as separate processes would open it."""

    make_huey: Callable[[], Huey]
    lock_seconds: int | None

    def queue(self, recorder: Recorder, **options: float) -> JobQueue:
        delays = {"retry_delay": SHORT_DELAY, "locked_delay": SHORT_DELAY} | options
        return JobQueue(
            self.make_huey(),
            recorder.handlers(),
            lock_seconds=self.lock_seconds,
            retries=RETRIES,
            **delays,
        )


def sqlite_backend(path: Path) -> Backend:
    def make() -> Huey:
        return LeasedSqliteHuey(
            QUEUE_NAME, filename=str(path), results=False, fsync=True
        )

    return Backend(make, lock_seconds=None)


def redis_backend(url: str) -> Backend:
    def make() -> Huey:
        # A short blocking read, so a stopping worker need not wait a second.
        return LeasedRedisHuey(QUEUE_NAME, url=url, results=False, read_timeout=0.1)

    return Backend(make, lock_seconds=REDIS_LOCK_SECONDS)


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return sqlite_backend(tmp_path / "queue.db")
    return redis_backend(request.getfixturevalue("redis_url"))


@pytest.fixture
def sqlite(tmp_path: Path) -> Backend:
    return sqlite_backend(tmp_path / "queue.db")


@pytest.fixture
def start() -> Iterator[Callable[..., InProcessConsumer]]:
    """Starts a queue's consumer threads; stops them all after the test."""
    started: list[InProcessConsumer] = []

    def start_consumer(queue: JobQueue, workers: int = 1) -> InProcessConsumer:
        consumer = queue.start_in_process(workers)
        started.append(consumer)
        return consumer

    yield start_consumer
    for consumer in started:
        consumer.shut_down()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Callable[[str], list[logging.LogRecord]]:
    """The queue's log records with a given message."""
    caplog.set_level(logging.INFO, logger="bot.queue")

    def records(message: str) -> list[logging.LogRecord]:
        return [
            record
            for record in list(caplog.records)
            if record.name == "bot.queue" and record.getMessage() == message
        ]

    return records


def seconds_until(eta: datetime.datetime) -> float:
    # huey keeps its times in UTC, without a zone.
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    return (eta - now).total_seconds()


def test_request_is_acknowledged_then_processed_as_it_was_queued(
    backend: Backend, start: Callable[..., InProcessConsumer]
) -> None:
    recorder = Recorder()
    queue = backend.queue(recorder)
    start(queue)

    queue.enqueue(request_for())

    recorder.wait_for("process", 1)
    assert [(call.step, call.request) for call in recorder.calls] == [
        ("acknowledge", request_for()),
        ("process", request_for()),
    ]
    assert recorder.calls[1].request.arguments.paths == ("src/train.py",)
    assert recorder.calls[1].request.trigger is Trigger.PR_COMMENT


def test_acknowledgement_goes_ahead_of_a_waiting_job(
    backend: Backend, start: Callable[..., InProcessConsumer]
) -> None:
    recorder = Recorder()
    queue = backend.queue(recorder)
    queue.enqueue(request_for(delivery="first"))
    # The first acknowledgement ran; its job waits in the queue.
    queue.huey.execute(queue.huey.dequeue())
    queue.enqueue(request_for(delivery="second"))

    start(queue)

    recorder.wait_for("process", 2)
    order = [(call.step, call.request.delivery_id) for call in recorder.calls]
    assert order == [
        ("acknowledge", "first"),
        ("acknowledge", "second"),
        ("process", "first"),
        ("process", "second"),
    ]


def test_failed_acknowledgement_does_not_cost_the_job(
    backend: Backend, start: Callable[..., InProcessConsumer]
) -> None:
    def fail(request: Request, attempt: int) -> None:
        raise RuntimeError("no reaction today")

    recorder = Recorder(acknowledge_script=fail)
    queue = backend.queue(recorder)
    start(queue)

    queue.enqueue(request_for())

    assert [call.request for call in recorder.wait_for("process", 1)] == [request_for()]


def test_retry_later_runs_the_job_again_after_its_delay(
    backend: Backend,
    start: Callable[..., InProcessConsumer],
    logs: Callable[[str], list[logging.LogRecord]],
) -> None:
    def busy_once(request: Request, attempt: int) -> None:
        if attempt == 0:
            raise RetryLater(0.3, "GitHub said wait")

    recorder = Recorder(process_script=busy_once)
    queue = backend.queue(recorder)
    consumer = start(queue)

    queue.enqueue(request_for())

    first, second = recorder.wait_for("process", 2)
    eventually(lambda: logs("job done"), "the job to finish")
    consumer.shut_down()
    assert second.started - first.ended >= 0.3
    assert len(recorder.steps("acknowledge")) == 1
    [retry] = logs("job will retry")
    assert (retry.delay, retry.reason) == (0.3, "GitHub said wait")  # type: ignore[attr-defined]
    assert queue.huey.pending_count() + queue.huey.scheduled_count() == 0


def test_retry_is_scheduled_with_the_delay_asked_for(
    backend: Backend, start: Callable[..., InProcessConsumer]
) -> None:
    def rate_limited(request: Request, attempt: int) -> None:
        raise RetryLater(600)

    queue = backend.queue(Recorder(process_script=rate_limited))
    start(queue)

    queue.enqueue(request_for())

    eventually(lambda: queue.huey.scheduled_count() == 1, "the retry to be scheduled")
    [task] = queue.huey.scheduled()
    assert 590 < seconds_until(task.eta) <= 600
    assert task.retries == RETRIES - 1


def test_retry_without_a_delay_backs_off(sqlite: Backend) -> None:
    def busy(request: Request, attempt: int) -> None:
        raise RetryLater()

    queue = sqlite.queue(Recorder(process_script=busy), retry_delay=100)
    queue.enqueue(request_for())
    # One step at a time, as a worker does, to see each wait.
    for _ in range(2):
        queue.huey.execute(queue.huey.dequeue())
    waits = []
    for _ in range(RETRIES):
        [task] = queue.huey.read_schedule(datetime.datetime.max)
        waits.append(seconds_until(task.eta))
        queue.huey.execute(task, task.eta)

    assert 90 < waits[0] <= 100
    assert 190 < waits[1] <= 200
    assert queue.huey.scheduled_count() == 0


def test_job_that_keeps_failing_gives_up_after_its_retries(
    backend: Backend,
    start: Callable[..., InProcessConsumer],
    logs: Callable[[str], list[logging.LogRecord]],
) -> None:
    def always_busy(request: Request, attempt: int) -> None:
        raise RetryLater(0, "still down")

    recorder = Recorder(process_script=always_busy)
    queue = backend.queue(recorder)
    consumer = start(queue)

    queue.enqueue(request_for())

    eventually(lambda: logs("job gave up after retries"), "the job to give up")
    consumer.shut_down()
    assert len(recorder.steps("process")) == RETRIES + 1
    assert len(logs("job will retry")) == RETRIES
    [gave_up] = logs("job gave up after retries")
    assert gave_up.attempts == RETRIES + 1  # type: ignore[attr-defined]
    assert queue.huey.pending_count() + queue.huey.scheduled_count() == 0
    assert [(reason, attempts) for _, reason, attempts in recorder.gave_up] == [
        ("still down", RETRIES + 1)
    ]


def test_unexpected_exception_is_not_retried(
    backend: Backend,
    start: Callable[..., InProcessConsumer],
    logs: Callable[[str], list[logging.LogRecord]],
) -> None:
    def crash(request: Request, attempt: int) -> None:
        raise KeyError("a bug")

    recorder = Recorder(process_script=crash)
    queue = backend.queue(recorder)
    consumer = start(queue)

    queue.enqueue(request_for())

    eventually(lambda: logs("job failed"), "the job to fail")
    consumer.shut_down()
    assert len(recorder.steps("process")) == 1
    assert logs("job failed")[0].exc_info is not None
    # The job itself reports a failure that is not retried.
    assert recorder.gave_up == []
    assert queue.huey.pending_count() + queue.huey.scheduled_count() == 0


def test_jobs_on_one_repository_never_run_at_once(
    backend: Backend,
    start: Callable[..., InProcessConsumer],
    logs: Callable[[str], list[logging.LogRecord]],
) -> None:
    def hold_until_the_other_waits(request: Request, attempt: int) -> None:
        if attempt == 0:
            eventually(lambda: logs("repository busy, job waits"), "the other job")

    recorder = Recorder(process_script=hold_until_the_other_waits)
    queue = backend.queue(recorder)
    start(queue, workers=2)

    queue.enqueue(request_for(delivery="first"))
    queue.enqueue(request_for(repo="MODELS", delivery="second"))

    first, second = recorder.wait_for("process", 2)
    assert second.started >= first.ended
    assert {first.request.delivery_id, second.request.delivery_id} == {
        "first",
        "second",
    }


def test_jobs_on_two_repositories_run_at_once(
    backend: Backend,
    start: Callable[..., InProcessConsumer],
    logs: Callable[[str], list[logging.LogRecord]],
) -> None:
    # Each job waits for the other inside its own run: only side by side can
    # both get through.
    both_running = threading.Barrier(2, timeout=WAIT_SECONDS)
    recorder = Recorder(process_script=lambda request, attempt: both_running.wait())
    queue = backend.queue(recorder)
    start(queue, workers=2)

    queue.enqueue(request_for(repo="models"))
    queue.enqueue(request_for(repo="datasets"))

    eventually(lambda: len(logs("job done")) == 2, "both jobs to finish")
    assert not logs("job failed")


def test_request_queued_with_no_consumer_runs_after_reopening(
    backend: Backend, start: Callable[..., InProcessConsumer]
) -> None:
    # The web app answered 202 and stopped before any worker ran.
    web = backend.queue(Recorder())
    web.enqueue(request_for())
    web.huey.storage.close()
    recorder = Recorder()

    worker = backend.queue(recorder)
    assert worker.huey.pending_count() == 1
    start(worker)

    recorder.wait_for("process", 1)
    assert [call.step for call in recorder.calls] == ["acknowledge", "process"]
    assert recorder.calls[1].request == request_for()


def test_job_cut_off_by_shutdown_runs_again_on_the_next_start(
    sqlite: Backend,
    start: Callable[..., InProcessConsumer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.queue, "SHUTDOWN_SECONDS", 0.1)
    release = threading.Event()
    recorder = Recorder(process_script=lambda request, attempt: release.wait())
    queue = sqlite.queue(recorder)
    consumer = start(queue)
    queue.enqueue(request_for())
    eventually(lambda: recorder.steps("process"), "the job to start")

    consumer.shut_down()
    release.set()
    recorder.wait_for("process", 1)

    assert queue.huey.pending_count() == 1
    later = Recorder()
    start(sqlite.queue(later))
    assert [call.request for call in later.wait_for("process", 1)] == [request_for()]
    assert later.steps("acknowledge") == []


def test_stale_sqlite_lock_is_removed_when_a_consumer_starts(
    sqlite: Backend, start: Callable[..., InProcessConsumer]
) -> None:
    # A consumer killed mid-job left its repository locked.
    lock_name = f"repo:{request_for().full_name}"
    dead = sqlite.make_huey()
    dead.lock_task(lock_name).acquire()
    dead.storage.close()
    recorder = Recorder()
    queue = sqlite.queue(recorder)
    queue.enqueue(request_for())

    start(queue)

    recorder.wait_for("process", 1)
    assert not queue.huey.is_locked(lock_name)


def test_redis_lock_of_another_worker_is_left_alone(
    redis_url: str, start: Callable[..., InProcessConsumer]
) -> None:
    # With Redis, other workers run beside this one; their locks expire.
    lock_name = f"repo:{request_for().full_name}"
    backend = redis_backend(redis_url)
    other_worker = backend.make_huey()
    other_worker.lock_task(lock_name, ttl=REDIS_LOCK_SECONDS).acquire()
    queue = backend.queue(Recorder())

    start(queue)

    assert queue.huey.is_locked(lock_name)


def test_acknowledgement_retried_before_the_job_which_runs_once_it_gives_up(
    backend: Backend,
    start: Callable[..., InProcessConsumer],
    logs: Callable[[str], list[logging.LogRecord]],
) -> None:
    def limited(request: Request, attempt: int) -> None:
        raise RetryLater(0, "GitHub said wait")

    recorder = Recorder(acknowledge_script=limited)
    queue = backend.queue(recorder)
    start(queue)

    queue.enqueue(request_for())

    recorder.wait_for("process", 1)
    steps = [call.step for call in recorder.calls]
    assert steps == ["acknowledge"] * (RETRIES + 1) + ["process"]
    assert len(logs("acknowledgement will retry")) == RETRIES
    assert len(logs("acknowledgement gave up")) == 1
