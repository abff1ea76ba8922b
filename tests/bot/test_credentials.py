"""The stored credentials file, and the settings that read it when the env has none."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from fakehub.keys import make_keys

from bot import credentials as credentials_module
from bot.credentials import (
    Credentials,
    CredentialsError,
    credentials_path,
    load_credentials,
    store_credentials,
)
from bot.settings import (
    RegistrationSettings,
    Settings,
    SettingsError,
    registration_settings,
)


@pytest.fixture(scope="module")
def stored() -> Credentials:
    return Credentials(
        321, "my-inject", make_keys().private, "s3cret-hook", "https://x/apps/a"
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_file_is_private_from_its_first_byte_whatever_the_umask(
    data_dir: Path, stored: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes_before_rename: list[int] = []
    real_replace: Callable[[str, Path], None] = os.replace

    def replace(source: str, target: Path) -> None:
        modes_before_rename.append(mode(Path(source)))
        real_replace(source, target)

    monkeypatch.setattr(credentials_module.os, "replace", replace)
    old_umask = os.umask(0)
    try:
        path = store_credentials(data_dir, stored)
    finally:
        os.umask(old_umask)

    assert modes_before_rename == [0o600]
    assert mode(path) == 0o600
    assert mode(data_dir) == 0o700
    assert load_credentials(data_dir) == stored
    assert [each.name for each in data_dir.iterdir()] == [path.name]


def test_storing_again_replaces_the_file_whole(
    data_dir: Path, stored: Credentials
) -> None:
    store_credentials(data_dir, stored)
    newer = Credentials(322, "other", stored.private_key, "new-secret")

    store_credentials(data_dir, newer)

    assert load_credentials(data_dir) == newer
    assert len(list(data_dir.iterdir())) == 1


def test_no_file_is_no_credentials(data_dir: Path) -> None:
    assert load_credentials(data_dir) is None


def test_a_file_others_can_read_is_refused(data_dir: Path, stored: Credentials) -> None:
    path = store_credentials(data_dir, stored)
    path.chmod(0o644)

    with pytest.raises(CredentialsError, match="readable by others: `chmod 600` it"):
        load_credentials(data_dir)


def test_a_broken_file_is_refused_without_echoing_it(data_dir: Path) -> None:
    data_dir.mkdir()
    path = credentials_path(data_dir)
    path.write_text('{"app_id": 1, "slug": "a", "private_key": "hunter2"}')
    path.chmod(0o600)

    with pytest.raises(CredentialsError) as raised:
        load_credentials(data_dir)

    assert "is not a credentials file" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_the_repr_shows_no_secret(stored: Credentials) -> None:
    shown = repr(stored)

    assert "s3cret-hook" not in shown and "PRIVATE KEY" not in shown


def environment(data_dir: Path, **more: str) -> dict[str, str]:
    return {"WANDB_INJECT_DATA_DIR": str(data_dir)} | {
        f"WANDB_INJECT_{name}": value for name, value in more.items()
    }


def test_settings_read_the_stored_file_when_the_env_has_no_credentials(
    data_dir: Path, stored: Credentials
) -> None:
    store_credentials(data_dir, stored)

    settings = Settings.from_environment(environment(data_dir))

    assert settings.app_id == stored.app_id
    assert settings.private_key == stored.private_key
    assert settings.webhook_secret == stored.webhook_secret
    assert settings.bot_login == "my-inject[bot]"


def test_the_env_wins_over_the_stored_file(data_dir: Path, stored: Credentials) -> None:
    store_credentials(data_dir, stored)
    key = make_keys().private

    settings = Settings.from_environment(
        environment(
            data_dir,
            APP_ID="7",
            PRIVATE_KEY=key,
            WEBHOOK_SECRET="env-secret",
            BOT_LOGIN="env-app[bot]",
        )
    )

    assert (settings.app_id, settings.webhook_secret) == (7, "env-secret")
    assert settings.private_key == key.strip()
    assert settings.bot_login == "env-app[bot]"


def test_some_credentials_in_the_env_are_not_topped_up_from_the_file(
    data_dir: Path, stored: Credentials
) -> None:
    # An id from one app and a key from another would fail later, and obscurely.
    store_credentials(data_dir, stored)

    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(environment(data_dir, APP_ID="7"))

    problems = raised.value.problems
    assert len(problems) == 2
    assert "PRIVATE_KEY" in problems[0] and "WEBHOOK_SECRET" in problems[1]


def test_a_broken_stored_file_is_one_problem_naming_it(data_dir: Path) -> None:
    data_dir.mkdir()
    credentials_path(data_dir).write_text("{}")
    credentials_path(data_dir).chmod(0o600)

    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(environment(data_dir))

    [problem] = raised.value.problems
    assert problem.startswith("WANDB_INJECT_DATA_DIR:")
    assert "is not a credentials file" in problem


def test_registration_is_for_a_server_with_no_credentials_anywhere(
    data_dir: Path, stored: Credentials
) -> None:
    found = registration_settings(environment(data_dir))
    with_env = registration_settings(environment(data_dir, WEBHOOK_SECRET="x"))
    store_credentials(data_dir, stored)
    with_file = registration_settings(environment(data_dir))

    assert found == RegistrationSettings(
        data_dir, "https://api.github.com", "https://github.com", "127.0.0.1", 8000
    )
    assert with_env is None and with_file is None


def test_an_enterprise_servers_web_address_comes_from_its_api_address(
    data_dir: Path,
) -> None:
    api = "https://ghe.example.com/api/v3"

    found = registration_settings(
        environment(data_dir, GITHUB_API_URL=api, PUBLIC_URL="https://bot.x/")
    )
    chosen = registration_settings(
        environment(data_dir, GITHUB_API_URL=api, GITHUB_URL="https://web.x")
    )

    assert found is not None and chosen is not None
    assert found.github_url == "https://ghe.example.com"
    assert found.public_url == "https://bot.x"
    assert chosen.github_url == "https://web.x"


@pytest.mark.parametrize("url", ["bot.example.com", "https://bot.x/?a=1", "ftp://x"])
def test_a_bad_public_url_is_a_problem(data_dir: Path, url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        registration_settings(environment(data_dir, PUBLIC_URL=url))

    [problem] = raised.value.problems
    assert problem.startswith("WANDB_INJECT_PUBLIC_URL:")
