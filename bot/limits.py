"""Caps on what scans create, shared by every worker through SQLite or Redis.

Per installation: new pull requests an hour, and pull requests open at once.
For the whole app: GitHub's secondary limits on creating content.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import redis

from bot.settings import Settings
from bot.store import REDIS_PREFIX, STATE_FILE, immediate_transaction

HOUR = 3600.0
MINUTE = 60.0
# GitHub's secondary limits on creating pull requests, issues and comments.
CONTENT_PER_MINUTE = 80
CONTENT_PER_HOUR = 500

_SCHEMA = """
create table if not exists scan_pull (
    installation_id integer not null,
    full_name text not null,
    opened_at real not null,
    open integer not null,
    primary key (installation_id, full_name)
);
create table if not exists content_slot (at real not null);
create index if not exists content_slot_at on content_slot (at);
"""


@dataclass(frozen=True)
class Refused:
    """Why a pull request may not be opened now; retry after `retry_after`
    seconds, or at the next scan when None."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Caps:
    pulls_per_hour: int
    open_pulls: int
    content_per_minute: int = CONTENT_PER_MINUTE
    content_per_hour: int = CONTENT_PER_HOUR


class Limits(Protocol):
    def reserve_pull(self, installation_id: int, full_name: str) -> Refused | None:
        """Count a pull request about to be opened, unless a cap forbids it."""
        ...

    def release_pull(self, installation_id: int, full_name: str) -> None:
        """Forget a reservation that opened nothing."""
        ...

    def note_pull(self, installation_id: int, full_name: str, is_open: bool) -> None:
        """Record whether the repository has an open pull request of the app's."""
        ...

    def take_content_slot(self) -> float:
        """0 once a slot to create content is taken, else the seconds to wait."""
        ...


def open_limits(settings: Settings) -> Limits:
    caps = Caps(settings.scan_pulls_per_hour, settings.scan_open_pulls)
    if settings.uses_redis:
        return RedisLimits(redis.Redis.from_url(settings.queue_url), caps)
    return SqliteLimits(settings.data_dir / STATE_FILE, caps)


def _refused_hourly(caps: Caps, wait: float) -> Refused:
    reason = f"{caps.pulls_per_hour} new pull requests in the last hour"
    return Refused(reason, max(wait, 1.0))


def _refused_open(caps: Caps) -> Refused:
    return Refused(f"{caps.open_pulls} pull requests of the app's already open")


class SqliteLimits:
    """The counters in the app's state file; a write transaction makes each check
    and count one step for every worker on the machine."""

    def __init__(
        self, path: Path, caps: Caps, clock: Callable[[], float] = time.time
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.caps, self._clock = path, caps, clock
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        with closing(connection):
            connection.executescript(_SCHEMA)

    def reserve_pull(self, installation_id: int, full_name: str) -> Refused | None:
        now = self._clock()
        with self._transaction() as connection:
            recent = [
                at
                for (at,) in connection.execute(
                    "select opened_at from scan_pull where installation_id = ? "
                    "and opened_at > ? order by opened_at",
                    (installation_id, now - HOUR),
                )
            ]
            if len(recent) >= self.caps.pulls_per_hour:
                return _refused_hourly(self.caps, recent[0] + HOUR - now)
            (open_count,) = connection.execute(
                "select count(*) from scan_pull where installation_id = ? "
                "and open = 1 and full_name != ?",
                (installation_id, full_name),
            ).fetchone()
            if open_count >= self.caps.open_pulls:
                return _refused_open(self.caps)
            connection.execute(
                "insert or replace into scan_pull values (?, ?, ?, 1)",
                (installation_id, full_name, now),
            )
        return None

    def release_pull(self, installation_id: int, full_name: str) -> None:
        with self._transaction() as connection:
            connection.execute(
                "delete from scan_pull where installation_id = ? and full_name = ?",
                (installation_id, full_name),
            )

    def note_pull(self, installation_id: int, full_name: str, is_open: bool) -> None:
        with self._transaction() as connection:
            # A pull request opened before counts as open, not as new this hour.
            connection.execute(
                "insert into scan_pull values (?, ?, 0, ?) on conflict "
                "(installation_id, full_name) do update set open = excluded.open",
                (installation_id, full_name, int(is_open)),
            )

    def take_content_slot(self) -> float:
        now = self._clock()
        with self._transaction() as connection:
            connection.execute("delete from content_slot where at <= ?", (now - HOUR,))
            taken = [at for (at,) in connection.execute("select at from content_slot")]
            wait = _wait(sorted(taken), now, self.caps)
            if wait == 0.0:
                connection.execute("insert into content_slot values (?)", (now,))
        return wait

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        with closing(connection), immediate_transaction(connection):
            yield connection


def _wait(taken: list[float], now: float, caps: Caps) -> float:
    """Seconds until a slot frees, given the times slots were taken (sorted)."""
    if len(taken) >= caps.content_per_hour:
        return taken[-caps.content_per_hour] + HOUR - now
    last_minute = [at for at in taken if at > now - MINUTE]
    if len(last_minute) >= caps.content_per_minute:
        return last_minute[-caps.content_per_minute] + MINUTE - now
    return 0.0


# KEYS: the installation's new-pull times and open pulls; ARGV: now, hour,
# per hour, open at once, repository. Returns {0} or {1, wait} or {2}.
_RESERVE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {1, tostring(tonumber(oldest[2]) + tonumber(ARGV[2]) - now)}
end
local open = redis.call('SCARD', KEYS[2]) - redis.call('SISMEMBER', KEYS[2], ARGV[5])
if open >= tonumber(ARGV[4]) then return {2} end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('SADD', KEYS[2], ARGV[5])
return {0}
"""
# KEYS: the slots taken; ARGV: now, per minute, per hour, a new member.
_TAKE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600)
local hour = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= hour then
  local first = redis.call('ZRANGE', KEYS[1], -hour, -hour, 'WITHSCORES')
  return tostring(tonumber(first[2]) + 3600 - now)
end
local minute = tonumber(ARGV[2])
if redis.call('ZCOUNT', KEYS[1], '(' .. (now - 60), '+inf') >= minute then
  local first = redis.call('ZRANGE', KEYS[1], -minute, -minute, 'WITHSCORES')
  return tostring(tonumber(first[2]) + 60 - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
return '0'
"""


class RedisLimits:
    """The same counters in Redis, each check and count one script run."""

    def __init__(
        self,
        client: redis.Redis,
        caps: Caps,
        clock: Callable[[], float] = time.time,
        prefix: str = REDIS_PREFIX,
    ) -> None:
        self.client, self.caps, self._clock, self.prefix = client, caps, clock, prefix
        self._reserve = client.register_script(_RESERVE)
        self._take = client.register_script(_TAKE)

    def reserve_pull(self, installation_id: int, full_name: str) -> Refused | None:
        now = self._clock()
        arguments = [now, HOUR, self.caps.pulls_per_hour, self.caps.open_pulls]
        answer = self._reserve(self._keys(installation_id), [*arguments, full_name])
        if answer[0] == 1:
            return _refused_hourly(self.caps, float(answer[1]))
        if answer[0] == 2:
            return _refused_open(self.caps)
        return None

    def release_pull(self, installation_id: int, full_name: str) -> None:
        opened, open_pulls = self._keys(installation_id)
        pipeline = self.client.pipeline(transaction=True)
        pipeline.zrem(opened, full_name)
        pipeline.srem(open_pulls, full_name)
        pipeline.execute()

    def note_pull(self, installation_id: int, full_name: str, is_open: bool) -> None:
        _, open_pulls = self._keys(installation_id)
        if is_open:
            self.client.sadd(open_pulls, full_name)
        else:
            self.client.srem(open_pulls, full_name)

    def take_content_slot(self) -> float:
        key = f"{self.prefix}:content"
        caps = self.caps
        arguments = [self._clock(), caps.content_per_minute, caps.content_per_hour]
        return float(self._take([key], [*arguments, uuid.uuid4().hex]))

    def _keys(self, installation_id: int) -> list[str]:
        base = f"{self.prefix}:pulls:{installation_id}"
        return [f"{base}:opened", f"{base}:open"]
