"""Scan caps alike in SQLite and Redis: new pull requests an hour, open ones, pacing."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from redis_server import (  # noqa: F401 - fixtures, found by pytest when imported
    redis_server_fixture,
    redis_url_fixture,
)

from bot.limits import Caps, Limits, RedisLimits, SqliteLimits

INSTALLATION = 4242
MakeLimits = Callable[[Caps], Limits]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "redis"])
def make(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> MakeLimits:
    if request.param == "sqlite":
        return lambda caps: SqliteLimits(tmp_path / "state.db", caps, clock)
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    request.addfinalizer(client.close)
    return lambda caps: RedisLimits(client, caps, clock)


def test_new_pull_requests_wait_for_the_hour_to_pass(
    make: MakeLimits, clock: Clock
) -> None:
    limits = make(Caps(pulls_per_hour=2, open_pulls=10))

    first = limits.reserve_pull(INSTALLATION, "acme/a")
    clock.now += 600
    second = limits.reserve_pull(INSTALLATION, "acme/b")
    third = limits.reserve_pull(INSTALLATION, "acme/c")
    other_installation = limits.reserve_pull(INSTALLATION + 1, "beta/c")
    clock.now += 3000.5
    after_the_hour = limits.reserve_pull(INSTALLATION, "acme/c")

    assert (first, second, other_installation, after_the_hour) == (None,) * 4
    assert third is not None and third.retry_after == pytest.approx(3000)
    assert "2 new pull requests" in third.reason


def test_open_pull_requests_hold_new_ones_back_until_closed(make: MakeLimits) -> None:
    limits = make(Caps(pulls_per_hour=10, open_pulls=2))
    limits.note_pull(INSTALLATION, "acme/older", is_open=True)

    first = limits.reserve_pull(INSTALLATION, "acme/a")
    held = limits.reserve_pull(INSTALLATION, "acme/b")
    limits.note_pull(INSTALLATION, "acme/older", is_open=False)
    after_closing = limits.reserve_pull(INSTALLATION, "acme/b")
    limits.release_pull(INSTALLATION, "acme/b")
    after_release = limits.reserve_pull(INSTALLATION, "acme/c")

    assert (first, after_closing, after_release) == (None, None, None)
    assert held is not None and held.retry_after is None
    assert "2 pull requests" in held.reason


def test_content_is_paced_per_minute_and_per_hour(
    make: MakeLimits, clock: Clock
) -> None:
    limits = make(Caps(1, 1, content_per_minute=3, content_per_hour=4))

    waits = []
    for _ in range(4):
        waits.append(limits.take_content_slot())
        clock.now += 1
    clock.now += 60
    waits.append(limits.take_content_slot())
    waits.append(limits.take_content_slot())

    # Slots at 0, 1 and 2 s; the fourth waits for the first to leave the minute.
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(57)
    assert waits[4:] == [0.0, pytest.approx(3600 - 64)]


def test_workers_reserving_at_once_never_pass_the_cap(make: MakeLimits) -> None:
    limits = make(Caps(pulls_per_hour=3, open_pulls=100))

    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda n: limits.reserve_pull(INSTALLATION, f"acme/r{n}"), range(16)
            )
        )

    assert sum(answer is None for answer in answers) == 3
