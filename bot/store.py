"""The app's small durable state: deliveries seen, installations and their repos."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import redis

from bot.settings import Settings
from bot.webhooks import InstallationChange

# GitHub never redelivers by itself, and a person redelivering by hand does so
# within days; a week of delivery ids is plenty to drop the repeats.
KEEP_DELIVERIES_SECONDS = 7 * 24 * 3600
PRUNE_EVERY_SECONDS = 3600
STATE_FILE = "state.db"
REDIS_PREFIX = "wandb-inject"

_SCHEMA = """
create table if not exists delivery (id text primary key, seen_at real not null);
create index if not exists delivery_seen_at on delivery (seen_at);
create table if not exists installation (id integer primary key, account text);
create table if not exists repository (
    installation_id integer not null,
    full_name text not null,
    primary key (installation_id, full_name)
);
create table if not exists tally (key text primary key, value real not null);
"""


class Store(Protocol):
    """What the web app keeps between deliveries."""

    def claim_delivery(self, delivery_id: str) -> bool:
        """True the first time a delivery id is claimed, False for a repeat."""
        ...

    def release_delivery(self, delivery_id: str) -> None:
        """Forget a claim, so a redelivery is handled after a failed enqueue."""
        ...

    def apply(self, change: InstallationChange) -> None: ...

    def repositories(self, installation_id: int) -> list[str]: ...

    def add_to_tally(self, amounts: Mapping[str, float]) -> None:
        """Add each amount to its number (from 0), all at once: the metrics."""
        ...

    def set_in_tally(self, key: str, value: float) -> None: ...

    def tally(self) -> dict[str, float]: ...

    def check(self) -> None:
        """Raise unless the state can be read and written."""
        ...

    def close(self) -> None: ...


def open_store(settings: Settings) -> Store:
    """Redis beside a Redis queue, else SQLite in the data folder."""
    if settings.uses_redis:
        return RedisStore(redis.Redis.from_url(settings.queue_url))
    return SqliteStore(settings.data_dir / STATE_FILE)


@contextmanager
def immediate_transaction(
    connection: sqlite3.Connection,
) -> Iterator[sqlite3.Connection]:
    """A write transaction taken at once, so two writers never both read first."""
    connection.execute("begin immediate")
    try:
        yield connection
    except BaseException:
        connection.execute("rollback")
        raise
    connection.execute("commit")


class SqliteStore:
    """SQLite in WAL mode, with one connection per thread."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._pruned_at = 0.0
        self._connection().executescript(_SCHEMA)

    def claim_delivery(self, delivery_id: str) -> bool:
        now = self._clock()
        connection = self._connection()
        cursor = connection.execute(
            "insert or ignore into delivery (id, seen_at) values (?, ?)",
            (delivery_id, now),
        )
        if now - self._pruned_at > PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            connection.execute(
                "delete from delivery where seen_at < ?",
                (now - KEEP_DELIVERIES_SECONDS,),
            )
        return cursor.rowcount == 1

    def release_delivery(self, delivery_id: str) -> None:
        self._connection().execute("delete from delivery where id = ?", (delivery_id,))

    def apply(self, change: InstallationChange) -> None:
        installation = change.installation_id
        with self._transaction() as connection:
            if change.uninstalled or change.complete:
                connection.execute(
                    "delete from repository where installation_id = ?",
                    (installation,),
                )
            if change.uninstalled:
                connection.execute(
                    "delete from installation where id = ?", (installation,)
                )
                return
            connection.execute(
                "insert or replace into installation (id, account) values (?, ?)",
                (installation, change.account),
            )
            connection.executemany(
                "insert or ignore into repository values (?, ?)",
                [(installation, name) for name in change.added],
            )
            connection.executemany(
                "delete from repository where installation_id = ? and full_name = ?",
                [(installation, name) for name in change.removed],
            )

    def repositories(self, installation_id: int) -> list[str]:
        rows = self._connection().execute(
            "select full_name from repository where installation_id = ? "
            "order by full_name",
            (installation_id,),
        )
        return [name for (name,) in rows]

    def add_to_tally(self, amounts: Mapping[str, float]) -> None:
        with self._transaction() as connection:
            connection.executemany(
                "insert into tally values (?, ?) "
                "on conflict (key) do update set value = value + excluded.value",
                amounts.items(),
            )

    def set_in_tally(self, key: str, value: float) -> None:
        self._connection().execute(
            "insert or replace into tally values (?, ?)", (key, value)
        )

    def tally(self) -> dict[str, float]:
        return dict(self._connection().execute("select key, value from tally"))

    def check(self) -> None:
        self._connection().execute("select count(*) from installation").fetchone()

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # Autocommit: each statement is durable on its own; `close` may run
            # on another thread, hence check_same_thread=False.
            connection = sqlite3.connect(
                self.path, timeout=5, isolation_level=None, check_same_thread=False
            )
            connection.execute("pragma journal_mode=wal")
            connection.execute("pragma synchronous=full")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._connection())


class RedisStore:
    """The same state in Redis, for a Redis queue: deliveries expire by themselves."""

    def __init__(self, client: redis.Redis, prefix: str = REDIS_PREFIX) -> None:
        self.client = client
        self.prefix = prefix

    def claim_delivery(self, delivery_id: str) -> bool:
        key = self._key("delivery", delivery_id)
        return bool(self.client.set(key, 1, nx=True, ex=KEEP_DELIVERIES_SECONDS))

    def release_delivery(self, delivery_id: str) -> None:
        self.client.delete(self._key("delivery", delivery_id))

    def apply(self, change: InstallationChange) -> None:
        installation = str(change.installation_id)
        repositories = self._key("repositories", installation)
        accounts = self._key("installations")
        pipeline = self.client.pipeline(transaction=True)
        if change.uninstalled or change.complete:
            pipeline.delete(repositories)
        if change.uninstalled:
            pipeline.hdel(accounts, installation)
        else:
            pipeline.hset(accounts, installation, change.account)
            if change.added:
                pipeline.sadd(repositories, *change.added)
            if change.removed:
                pipeline.srem(repositories, *change.removed)
        pipeline.execute()

    def repositories(self, installation_id: int) -> list[str]:
        members = self.client.smembers(self._key("repositories", str(installation_id)))
        return sorted(_text(member) for member in members)

    def add_to_tally(self, amounts: Mapping[str, float]) -> None:
        key = self._key("tally")
        pipeline = self.client.pipeline(transaction=True)
        for field, amount in amounts.items():
            pipeline.hincrbyfloat(key, field, amount)
        pipeline.execute()

    def set_in_tally(self, key: str, value: float) -> None:
        self.client.hset(self._key("tally"), key, value)

    def tally(self) -> dict[str, float]:
        fields = self.client.hgetall(self._key("tally"))
        return {_text(key): float(value) for key, value in fields.items()}

    def check(self) -> None:
        self.client.ping()

    def close(self) -> None:
        self.client.close()

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
