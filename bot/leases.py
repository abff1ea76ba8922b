"""Leases on dequeued tasks, so that a worker killed mid-task loses none of them.

huey takes a task off the queue before running it: a worker that dies (SIGKILL,
out of memory, a lost machine) takes the task with it. Each task taken holds a
lease in the queue's own storage until it ends; a worker renews its leases,
and the repository locks of its jobs, while it lives. An expired lease's task
is queued again by any worker; with SQLite, which has one consumer, a consumer
that starts queues every lease's task again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from huey import PriorityRedisExpireHuey, SqliteHuey  # type: ignore[import-untyped]
from huey.api import Task  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

# A lease outlives its worker by at most this long; renewed four times within.
LEASE_SECONDS = 10
RENEW_SECONDS = LEASE_SECONDS / 4
_PREFIX = "lease:"


class Leases:
    """The leases of one huey instance: this process's, and finding dead ones."""

    def __init__(self, huey: Any) -> None:
        self._huey = huey
        self.seconds: float = LEASE_SECONDS
        self._held: dict[str, Task] = {}
        self._locks: set[str] = set()
        self._guard = threading.Lock()

    def take(self, task: Task) -> None:
        with self._guard:
            self._held[task.id] = task
            self._write(task)

    def drop(self, task: Task) -> None:
        with self._guard:
            if self._held.pop(task.id, None) is not None:
                self._huey.delete(_PREFIX + task.id)

    @contextmanager
    def holding(self, key: str) -> Iterator[None]:
        """Renew the lock at storage `key` with the leases while the block runs."""
        with self._guard:
            self._locks.add(key)
        try:
            yield
        finally:
            with self._guard:
                self._locks.discard(key)

    def renew(self) -> None:
        with self._guard:
            # Locks first: a lease never ends before its job's lock.
            for key in self._locks:
                self._huey.refresh(key, self.seconds)
            for task in self._held.values():
                self._write(task)

    def recover(self, *, every: bool = False) -> int:
        """Queue again the tasks of expired leases (`every` lease, for a sole
        consumer starting); how many. Of two workers, the one that deletes a
        lease queues its task."""
        now = time.time()
        count = 0
        for key, raw in self._huey.storage.result_items().items():
            if not key.startswith(_PREFIX) or key[len(_PREFIX) :] in self._held:
                continue
            record = self._huey.serializer.deserialize(raw)
            if (every or record["until"] < now) and self._huey.delete(key):
                task = self._huey.deserialize_task(record["task"])
                self._huey.enqueue(task)
                logger.warning(
                    "task of a dead worker queued again", extra={"task": task.id}
                )
                count += 1
        return count

    def _write(self, task: Task) -> None:
        record = {
            "until": time.time() + self.seconds,
            "task": self._huey.serialize_task(task),
        }
        self._huey.put(_PREFIX + task.id, record)


class Keeper(threading.Thread):
    """Renews this process's leases and recovers expired ones, until stopped."""

    def __init__(self, leases: Leases) -> None:
        super().__init__(name="lease-keeper", daemon=True)
        self.leases = leases
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(RENEW_SECONDS):
            try:
                self.leases.renew()
                self.leases.recover()
            except Exception:
                # The queue's storage may be restarting: try again next round.
                logger.warning("leases not renewed", exc_info=True)

    def stop(self) -> None:
        self.stopped.set()


class _Leased:
    """A huey whose every dequeued task holds a lease until `execute` ends."""

    leases: Leases

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.leases = Leases(self)

    def dequeue(self) -> Task | None:
        task = super().dequeue()  # type: ignore[misc]
        if task is not None:
            self.leases.take(task)
        return task

    def execute(self, task: Task, timestamp: Any = None) -> Any:
        try:
            return super().execute(task, timestamp)  # type: ignore[misc]
        finally:
            self.leases.drop(task)

    def refresh(self, key: str, seconds: float) -> None:
        """Extend the time to live of the data at `key`; none without one."""


class LeasedSqliteHuey(_Leased, SqliteHuey):  # type: ignore[misc]
    """SqliteHuey with leases: its locks have no time to live to extend."""


class LeasedRedisHuey(_Leased, PriorityRedisExpireHuey):  # type: ignore[misc]
    """PriorityRedisExpireHuey with leases, its locks expiring with them."""

    def refresh(self, key: str, seconds: float) -> None:
        storage = self.storage
        storage.conn.expire(storage.result_key(key), int(seconds))
