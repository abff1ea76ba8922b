"""Both stores alike: deliveries claimed once, installations and their repositories."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis_server import (  # noqa: F401 - fixtures, found by pytest when imported
    RedisServer,
    own_redis_fixture,
    redis_server_fixture,
    redis_url_fixture,
)

from bot.store import KEEP_DELIVERIES_SECONDS, RedisStore, SqliteStore, Store
from bot.webhooks import InstallationChange

INSTALLATION = 4242
HOUR = 3600


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened: Store
    if request.param == "sqlite":
        opened = SqliteStore(tmp_path / "state.db")
    else:
        url = request.getfixturevalue("redis_url")
        opened = RedisStore(redis.Redis.from_url(url))
    yield opened
    opened.close()


def change(**fields: Any) -> InstallationChange:
    return InstallationChange(INSTALLATION, "octo-org", **fields)


def test_first_claim_of_a_delivery_wins_and_a_repeat_loses(store: Store) -> None:
    assert store.claim_delivery("delivery-1")
    assert not store.claim_delivery("delivery-1")
    assert store.claim_delivery("delivery-2")


def test_released_delivery_can_be_claimed_again(store: Store) -> None:
    store.claim_delivery("delivery-1")

    store.release_delivery("delivery-1")

    assert store.claim_delivery("delivery-1")
    assert not store.claim_delivery("delivery-1")


def test_new_installation_lists_its_repositories(store: Store) -> None:
    store.apply(change(added=("octo-org/b", "octo-org/a"), complete=True))

    assert store.repositories(INSTALLATION) == ["octo-org/a", "octo-org/b"]
    assert store.repositories(INSTALLATION + 1) == []


def test_a_complete_list_replaces_the_old_one(store: Store) -> None:
    store.apply(change(added=("octo-org/a", "octo-org/b"), complete=True))

    store.apply(change(added=("octo-org/c",), complete=True))

    assert store.repositories(INSTALLATION) == ["octo-org/c"]


def test_repositories_added_and_removed_change_the_list(store: Store) -> None:
    store.apply(change(added=("octo-org/a",), complete=True))

    store.apply(change(added=("octo-org/b", "octo-org/c")))
    store.apply(change(removed=("octo-org/a", "octo-org/c")))

    assert store.repositories(INSTALLATION) == ["octo-org/b"]


def test_uninstalling_forgets_the_repositories(store: Store) -> None:
    store.apply(change(added=("octo-org/a",), complete=True))
    other = InstallationChange(INSTALLATION + 1, "other", ("other/x",), complete=True)
    store.apply(other)

    store.apply(change(uninstalled=True))

    assert store.repositories(INSTALLATION) == []
    assert store.repositories(INSTALLATION + 1) == ["other/x"]


def test_check_passes_on_a_working_store(store: Store) -> None:
    store.check()


def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "state.db")
    first.claim_delivery("delivery-1")
    first.apply(change(added=("octo-org/a",), complete=True))
    first.close()

    again = SqliteStore(tmp_path / "state.db")

    assert not again.claim_delivery("delivery-1")
    assert again.repositories(INSTALLATION) == ["octo-org/a"]
    again.close()


def test_sqlite_forgets_deliveries_older_than_a_week(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteStore(tmp_path / "state.db", clock=clock)
    store.claim_delivery("old")
    clock.now += 2 * HOUR
    store.claim_delivery("recent")

    clock.now += KEEP_DELIVERIES_SECONDS - HOUR
    store.claim_delivery("new")

    # "old" is a week and an hour old now, "recent" an hour short of a week.
    assert store.claim_delivery("old")
    assert not store.claim_delivery("recent")
    assert not store.claim_delivery("new")
    store.close()


def test_redis_deliveries_expire_after_a_week(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisStore(client)

    store.claim_delivery("delivery-1")

    [key] = client.keys("*delivery-1")
    assert KEEP_DELIVERIES_SECONDS - 60 < client.ttl(key) <= KEEP_DELIVERIES_SECONDS
    store.close()


def test_redis_check_raises_once_the_server_is_gone(own_redis: RedisServer) -> None:
    store = RedisStore(own_redis.client())
    store.check()

    own_redis.stop()

    with pytest.raises(redis.ConnectionError):
        store.check()
    store.close()


def test_the_tally_adds_from_zero_and_sets_what_it_is_told(store: Store) -> None:
    store.add_to_tally({"jobs": 1, "seconds": 2.5})
    store.add_to_tally({"jobs": 1, "seconds": 0.25})
    store.set_in_tally("remaining", 4999)
    store.set_in_tally("remaining", 4990)

    assert store.tally() == {"jobs": 2, "seconds": 2.75, "remaining": 4990}


def test_the_tally_adds_up_writers_at_the_same_time(
    store: Store, request: pytest.FixtureRequest
) -> None:
    def another(store: Store) -> Store:
        # Each writer with a connection of its own, as another process has.
        if isinstance(store, SqliteStore):
            return SqliteStore(store.path)
        return RedisStore(redis.Redis.from_url(request.getfixturevalue("redis_url")))

    def write(writer: Store) -> None:
        for _ in range(50):
            writer.add_to_tally({"jobs": 1, "seconds": 0.5})
        writer.close()

    writers = [another(store) for _ in range(4)]
    threads = [threading.Thread(target=write, args=(each,)) for each in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.tally() == {"jobs": 200, "seconds": 100}
