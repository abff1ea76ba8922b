"""The job queue: huey tasks that acknowledge and process requests, and consumers."""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from huey.api import Huey, Task  # type: ignore[import-untyped]
from huey.consumer import Consumer  # type: ignore[import-untyped]
from huey.exceptions import (  # type: ignore[import-untyped]
    RetryTask,
    TaskLockedException,
)
from huey.signals import SIGNAL_INTERRUPTED  # type: ignore[import-untyped]
from huey.storage import RedisStorage  # type: ignore[import-untyped]

from bot.leases import (
    LEASE_SECONDS,
    Keeper,
    LeasedRedisHuey,
    LeasedSqliteHuey,
    Leases,
)
from bot.metrics import Metrics
from bot.request import Request
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.scan_queue import ScanTasks

logger = logging.getLogger(__name__)

QUEUE_NAME = "wandb-inject"
# Acknowledgements jump ahead of jobs waiting in the queue.
ACKNOWLEDGE_PRIORITY = 100
PROCESS_RETRIES = 5
RETRY_DELAY_SECONDS = 30.0
RETRY_BACKOFF = 2.0
LOCKED_RETRY_SECONDS = 15.0
# A worker killed mid-job leaves its repository's lock behind; in Redis the lock
# expires after this long, and is renewed while its job runs.
REDIS_LOCK_SECONDS = LEASE_SECONDS
# Longest an idle worker waits before looking at a SQLite queue again.
POLL_SECONDS = 1.0
SHUTDOWN_SECONDS = 30.0
_LOCK_PREFIX = "repo:"
# A job attempt's outcome when the queue decides it; `process` names the others.
RETRIED = "retried"
FAILED = "failed"
DONE = "done"


class RetryLater(Exception):
    """A retryable failure: retry after `delay` seconds, or on the queue's backoff."""

    def __init__(self, delay: float | None = None, reason: str = "") -> None:
        super().__init__(reason or "retryable failure")
        self.delay = delay


@dataclass(frozen=True)
class Handlers:
    """What the tasks call. `process` returns the outcome's name (for the metrics)
    or raises RetryLater for a retryable failure; `give_up` reports one still
    failing at the last attempt, with its reason and the number of attempts."""

    acknowledge: Callable[[Request], None]
    process: Callable[[Request], str | None]
    give_up: Callable[[Request, str, int], None]


def flow_handlers(settings: Settings, metrics: Metrics | None = None) -> Handlers:
    """The job's own steps from bot.flow, its Transient turned into RetryLater."""

    def acknowledge(request: Request) -> None:
        flow = _flow()
        with _retried_later(flow.Transient):
            flow.acknowledge(request, settings, metrics)

    def process(request: Request) -> str:
        flow = _flow()
        with _retried_later(flow.Transient):
            return str(flow.process(request, settings, metrics))

    def give_up(request: Request, reason: str, attempts: int) -> None:
        _flow().give_up(request, settings, reason, attempts, metrics)

    return Handlers(acknowledge, process, give_up)


@contextmanager
def _retried_later(transient: type[Exception]) -> Iterator[None]:
    """GitHub's transient failure, raised as the queue's RetryLater."""
    try:
        yield
    except transient as error:
        retry_after = getattr(error, "retry_after", None)
        raise RetryLater(retry_after, str(error)) from error


def _flow() -> ModuleType:
    # Imported when a task runs, not with this module: a web-only process never
    # loads the job's GitHub client, git and codemods.
    return importlib.import_module("bot.flow")


def open_queue(
    settings: Settings, handlers: Handlers, *, metrics: Metrics | None = None
) -> JobQueue:
    """Redis for a `redis://` queue URL, else a SQLite file."""
    if settings.uses_redis:
        huey = LeasedRedisHuey(QUEUE_NAME, url=settings.queue_url, results=False)
        queue = JobQueue(
            huey, handlers, lock_seconds=REDIS_LOCK_SECONDS, metrics=metrics
        )
    else:
        path = settings.sqlite_queue_path
        path.parent.mkdir(parents=True, exist_ok=True)
        # fsync on every commit: a 202 promises the request survives a crash.
        huey = LeasedSqliteHuey(
            QUEUE_NAME, filename=str(path), results=False, fsync=True
        )
        queue = JobQueue(huey, handlers, lock_seconds=None, metrics=metrics)
    # Imported here: the scan's tasks need this module's JobQueue.
    from bot.scan_queue import ScanTasks

    queue.scans = ScanTasks(queue, settings)
    return queue


class JobQueue:
    """Both tasks on one huey instance, with their retry and locking rules."""

    def __init__(
        self,
        huey: Huey,
        handlers: Handlers,
        *,
        lock_seconds: int | None,
        retries: int = PROCESS_RETRIES,
        retry_delay: float = RETRY_DELAY_SECONDS,
        locked_delay: float = LOCKED_RETRY_SECONDS,
        metrics: Metrics | None = None,
    ) -> None:
        self.huey = huey
        self.metrics = metrics
        self.handlers = handlers
        self.lock_seconds = lock_seconds
        self.retries = retries
        self.retry_delay = retry_delay
        self.locked_delay = locked_delay
        # Organisation scans, and whether consumers run their schedule.
        self.scans: ScanTasks | None = None
        self.periodic = False
        # Without leases (a plain huey) a killed worker's task is lost.
        self.leases: Leases | None = getattr(huey, "leases", None)
        self._acknowledge_task = huey.task(
            retries=retries,
            context=True,
            priority=ACKNOWLEDGE_PRIORITY,
            name="acknowledge_task",
        )(self._acknowledge)
        self._process_task = huey.task(
            retries=retries, context=True, name="process_task"
        )(self._process)
        huey.signal(SIGNAL_INTERRUPTED)(self._requeue_interrupted)

    def enqueue(self, request: Request) -> None:
        """Queue the acknowledgement, and the job to follow it, in one write."""
        request_json = json.dumps(request.to_json())
        pipeline = self._acknowledge_task.s(request_json).then(
            self._process_task, request_json
        )
        self.huey.enqueue(pipeline)

    def check(self) -> None:
        """Raise unless the queue's storage answers."""
        self.huey.pending_count()

    def close(self) -> None:
        """Let go of the storage's connections, at shutdown."""
        storage = self.huey.storage
        # huey's Redis storage has no close of its own, and its client does not
        # own the pool it was handed: the pool lets go of the connections.
        if isinstance(storage, RedisStorage):
            storage.conn.connection_pool.disconnect()
        else:
            storage.close()

    def start_in_process(self, workers: int) -> InProcessConsumer:
        """Worker threads inside this process, leaving signals to its server."""
        keeper = self._start_keeping()
        consumer = InProcessConsumer(
            self.huey,
            workers=workers,
            periodic=self.periodic,
            max_delay=POLL_SECONDS,
            shutdown_timeout=SHUTDOWN_SECONDS,
        )
        consumer.keeper = keeper
        consumer.start()
        return consumer

    def run_consumer(self, workers: int) -> None:
        """Run huey's own consumer on this main thread until SIGINT or SIGTERM."""
        keeper = self._start_keeping()
        consumer = self.huey.create_consumer(
            workers=workers,
            periodic=self.periodic,
            max_delay=POLL_SECONDS,
            shutdown_timeout=SHUTDOWN_SECONDS,
        )
        try:
            consumer.run()
        finally:
            if keeper is not None:
                keeper.stop()

    def _start_keeping(self) -> Keeper | None:
        """Free what a dead consumer held, then keep this one's leases."""
        self._flush_stale_locks()
        if self.leases is None:
            return None
        # A SQLite queue has one consumer: every lease at its start is stale.
        self.leases.recover(every=self.lock_seconds is None)
        keeper = Keeper(self.leases)
        keeper.start()
        return keeper

    def _acknowledge(self, request_json: str, task: Task) -> None:
        request = Request.from_json(json.loads(request_json))
        context = request.log_context()
        try:
            self.handlers.acknowledge(request)
        except RetryLater as error:
            # The job follows the acknowledgement: it waits for GitHub too,
            # and runs all the same once the acknowledgement gives up.
            if task.retries <= 0:
                logger.error(
                    "acknowledgement gave up", extra={**context, "reason": str(error)}
                )
                return
            self._raise_retry(task, context, error, "acknowledgement will retry")
        except Exception:
            # A missing reaction must not cost the job: it runs all the same.
            logger.exception("acknowledgement failed", extra=context)

    def _process(self, request_json: str, task: Task) -> None:
        request = Request.from_json(json.loads(request_json))
        context = {**request.log_context(), "job": task.id}
        name = _LOCK_PREFIX + request.full_name.lower()
        lock = self.huey.lock_task(name, ttl=self.lock_seconds)
        started = time.monotonic()
        try:
            with lock, self._renewed(self._lock_key(name)):
                attempt = self.retries - task.retries + 1
                logger.info("job started", extra={**context, "attempt": attempt})
                outcome = self.handlers.process(request) or DONE
        except TaskLockedException:
            # Waiting for another job on the repository is not a failed attempt.
            logger.info("repository busy, job waits", extra=context)
            raise RetryTask(delay=self.locked_delay) from None
        except RetryLater as error:
            self._retry(task, request, context, error, started)
        except Exception:
            # The job reported the failure on its status comment itself.
            seconds = self._record(FAILED, started)
            logger.exception("job failed", extra={**context, "seconds": seconds})
        else:
            seconds = self._record(outcome, started)
            done = {**context, "outcome": outcome, "seconds": seconds}
            logger.info("job done", extra=done)

    def _record(self, outcome: str, started: float) -> float:
        """Count the attempt's outcome and duration; the duration, rounded."""
        seconds = time.monotonic() - started
        if self.metrics is not None:
            self.metrics.job(outcome, seconds)
        return round(seconds, 3)

    def _retry(
        self,
        task: Task,
        request: Request,
        context: dict[str, object],
        error: RetryLater,
        started: float,
    ) -> None:
        self._record(RETRIED if task.retries > 0 else FAILED, started)
        if task.retries <= 0:
            attempts = self.retries + 1
            logger.error(
                "job gave up after retries",
                extra={**context, "reason": str(error), "attempts": attempts},
            )
            self._give_up(request, str(error), attempts)
            return
        self._raise_retry(task, context, error, "job will retry")

    def _raise_retry(
        self, task: Task, context: dict[str, object], error: RetryLater, message: str
    ) -> None:
        """Run `task` again after the delay asked for, else on the backoff."""
        attempt = self.retries - task.retries
        delay = error.delay
        if delay is None:
            delay = self.retry_delay * RETRY_BACKOFF**attempt
        # huey hands back one retry for a RetryTask before it takes one for the
        # requeue; taking it here makes this attempt count against the limit.
        task.retries -= 1
        logger.warning(message, extra={**context, "reason": str(error), "delay": delay})
        raise RetryTask(delay=delay) from error

    def _lock_key(self, name: str) -> str:
        """Where huey stores the lock `name`."""
        return f"{self.huey.name}.lock.{name}"

    def _renewed(self, lock_key: str) -> AbstractContextManager[None]:
        # A lock with a time to live lasts as long as the job's lease.
        return nullcontext() if self.leases is None else self.leases.holding(lock_key)

    def _give_up(self, request: Request, reason: str, attempts: int) -> None:
        try:
            self.handlers.give_up(request, reason, attempts)
        except Exception:
            # GitHub may be what keeps failing: the log still has the reason.
            logger.exception(
                "giving up could not be reported", extra=request.log_context()
            )

    def _requeue_interrupted(self, signal: str, task: Task) -> None:
        # Shutdown cut this task off: it runs again when a consumer next starts.
        logger.warning("task interrupted, queued again", extra={"task": task.id})
        self.huey.enqueue(task)
        # Queued once: its lease must not queue it again.
        if self.leases is not None:
            self.leases.drop(task)

    def _flush_stale_locks(self) -> None:
        # Locks without a time limit (SQLite) outlive only a consumer that died
        # mid-job. One consumer serves a SQLite queue, so at its start every
        # repository lock is stale.
        if self.lock_seconds is not None:
            return
        prefix = self._lock_key(_LOCK_PREFIX)
        for key in self.huey.storage.result_items():
            if key.startswith(prefix):
                logger.warning("stale repository lock removed", extra={"lock": key})
                self.huey.delete(key)


class InProcessConsumer(Consumer):  # type: ignore[misc]
    """huey's consumer, minus its signal handlers, for a thread of the web server.

    The stock one installs SIGINT and SIGTERM handlers on start: that fails off
    the main thread, and on it takes the signals from uvicorn.
    """

    keeper: Keeper | None = None

    def _set_signal_handlers(self) -> None:
        return

    def shut_down(self) -> None:
        """Give running jobs a while to finish; queue again the ones cut off."""
        self.stop(graceful=True)
        self.huey.notify_interrupted_tasks()
        if self.keeper is not None:
            self.keeper.stop()
