"""The app's settings from WANDB_INJECT_* variables: values, defaults, every problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import Settings, SettingsError

SECRET = "webhook-secret-7f3a"


@pytest.fixture(scope="module")
def pem_key() -> str:
    """A real RSA key in PEM, as GitHub hands out for an app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def environ(tmp_path: Path, pem_key: str) -> dict[str, str]:
    """The fewest variables that make complete settings."""
    return {
        "WANDB_INJECT_APP_ID": "123456",
        "WANDB_INJECT_PRIVATE_KEY": pem_key,
        "WANDB_INJECT_WEBHOOK_SECRET": SECRET,
        "WANDB_INJECT_DATA_DIR": str(tmp_path / "data"),
    }


def problems(environ: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(environ)
    return raised.value.problems


def test_complete_environment_gives_settings_with_defaults(
    environ: dict[str, str], tmp_path: Path, pem_key: str
) -> None:
    settings = Settings.from_environment(environ)

    data = tmp_path / "data"
    assert settings == Settings(
        app_id=123456,
        private_key=pem_key.strip(),
        webhook_secret=SECRET,
        queue_url=f"sqlite://{data}/queue.db",
        github_api_url="https://api.github.com",
        listen_host="127.0.0.1",
        listen_port=8000,
        data_dir=data,
        bot_login=None,
    )
    assert settings.sqlite_queue_path == data / "queue.db"
    assert not settings.uses_redis


def test_every_problem_is_named_at_once_one_line_each(tmp_path: Path) -> None:
    environ = {
        "WANDB_INJECT_APP_ID": "my-app",
        "WANDB_INJECT_QUEUE": "postgres://db/queue",
        "WANDB_INJECT_GITHUB_API_URL": "api.github.com",
        "WANDB_INJECT_LISTEN": "8000",
        "WANDB_INJECT_BOT_LOGIN": "wandb-inject",
        "WANDB_INJECT_DATA_DIR": str(tmp_path / "missing"),
    }

    found = problems(environ)

    named = ["APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET", "QUEUE", "GITHUB_API_URL"]
    named += ["LISTEN", "BOT_LOGIN"]
    assert len(found) == len(named)
    for problem, name in zip(found, named, strict=True):
        assert f"WANDB_INJECT_{name}" in problem
    message = str(SettingsError(found))
    assert message.count("\n  - ") == len(named)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        pytest.param("APP_ID", "", "is not set", id="app-id-missing"),
        pytest.param("APP_ID", "0", "numeric id", id="app-id-zero"),
        pytest.param("APP_ID", "12a", "numeric id", id="app-id-letters"),
        pytest.param("APP_ID", "²", "numeric id", id="app-id-superscript"),
        pytest.param("WEBHOOK_SECRET", "  ", "is not set", id="secret-blank"),
        pytest.param("PRIVATE_KEY", "", "is not set", id="key-missing"),
        pytest.param("BOT_LOGIN", "[bot]", "my-app[bot]", id="login-only-suffix"),
        pytest.param("BOT_LOGIN", "wandb-inject", "my-app[bot]", id="login-no-bot"),
    ],
)
def test_one_bad_variable_gives_one_problem_naming_it(
    environ: dict[str, str], name: str, value: str, says: str
) -> None:
    environ[f"WANDB_INJECT_{name}"] = value

    [problem] = problems(environ)

    assert problem.startswith(f"WANDB_INJECT_{name}")
    assert says in problem


def test_data_dir_that_is_a_file_is_a_problem(
    environ: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    environ["WANDB_INJECT_DATA_DIR"] = str(tmp_path / "file")

    [problem] = problems(environ)

    assert "is not a folder" in problem


def test_inline_key_with_literal_newlines_gets_real_ones(
    environ: dict[str, str], pem_key: str
) -> None:
    environ["WANDB_INJECT_PRIVATE_KEY"] = pem_key.strip().replace("\n", "\\n")

    settings = Settings.from_environment(environ)

    assert settings.private_key == pem_key.strip()
    assert settings.private_key.splitlines()[0] == "-----BEGIN RSA PRIVATE KEY-----"


def test_key_can_come_from_a_file(
    environ: dict[str, str], pem_key: str, tmp_path: Path
) -> None:
    (tmp_path / "app.pem").write_text(pem_key)
    del environ["WANDB_INJECT_PRIVATE_KEY"]
    environ["WANDB_INJECT_PRIVATE_KEY_PATH"] = str(tmp_path / "app.pem")

    assert Settings.from_environment(environ).private_key == pem_key.strip()


def test_key_inline_and_from_a_file_is_a_problem(
    environ: dict[str, str], pem_key: str, tmp_path: Path
) -> None:
    (tmp_path / "app.pem").write_text(pem_key)
    environ["WANDB_INJECT_PRIVATE_KEY_PATH"] = str(tmp_path / "app.pem")

    [problem] = problems(environ)

    assert "not both" in problem


def test_bad_inline_key_is_refused_and_never_echoed(environ: dict[str, str]) -> None:
    pasted = "ghp_notAKeyButSomethingSecret123"
    environ["WANDB_INJECT_PRIVATE_KEY"] = pasted

    [problem] = problems(environ)

    assert "PEM private key" in problem
    assert pasted not in problem


def test_key_file_without_a_key_is_refused_and_never_echoed(
    environ: dict[str, str], tmp_path: Path
) -> None:
    content = "hunter2-some-token-pasted-by-mistake"
    (tmp_path / "app.pem").write_text(content)
    del environ["WANDB_INJECT_PRIVATE_KEY"]
    environ["WANDB_INJECT_PRIVATE_KEY_PATH"] = str(tmp_path / "app.pem")

    [problem] = problems(environ)

    assert "does not hold a PEM private key" in problem
    assert content not in problem


def test_missing_key_file_names_its_path(
    environ: dict[str, str], tmp_path: Path
) -> None:
    del environ["WANDB_INJECT_PRIVATE_KEY"]
    environ["WANDB_INJECT_PRIVATE_KEY_PATH"] = str(tmp_path / "gone.pem")

    [problem] = problems(environ)

    assert f"cannot read '{tmp_path / 'gone.pem'}'" in problem


@pytest.mark.parametrize(
    ("url", "redis"),
    [
        pytest.param("sqlite:///srv/bot/queue.db", False, id="sqlite-absolute"),
        pytest.param("redis://localhost:6379/0", True, id="redis"),
        pytest.param("rediss://:pw@cache.example.com:6380/1", True, id="rediss"),
    ],
)
def test_queue_url_forms_are_kept(
    environ: dict[str, str], url: str, redis: bool
) -> None:
    environ["WANDB_INJECT_QUEUE"] = url

    settings = Settings.from_environment(environ)

    assert (settings.queue_url, settings.uses_redis) == (url, redis)


def test_sqlite_queue_url_may_start_in_home(environ: dict[str, str]) -> None:
    environ["WANDB_INJECT_QUEUE"] = "sqlite://~/bot/queue.db"

    settings = Settings.from_environment(environ)

    assert settings.sqlite_queue_path == Path.home() / "bot" / "queue.db"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sqlite://queue.db", id="sqlite-relative"),
        pytest.param("sqlite:///", id="sqlite-folder"),
        pytest.param("redis://", id="redis-no-host"),
        pytest.param("redis://localhost:port/0", id="redis-bad-port"),
        pytest.param("amqp://localhost", id="other-scheme"),
        pytest.param("/srv/bot/queue.db", id="bare-path"),
    ],
)
def test_bad_queue_urls_are_a_problem(environ: dict[str, str], url: str) -> None:
    environ["WANDB_INJECT_QUEUE"] = url

    [problem] = problems(environ)

    assert problem.startswith("WANDB_INJECT_QUEUE")


def test_bad_queue_url_problem_hides_its_password(environ: dict[str, str]) -> None:
    environ["WANDB_INJECT_QUEUE"] = "redis://:hunter2@cache:port/0"

    [problem] = problems(environ)

    assert "hunter2" not in problem
    assert "redis://:***@cache:port/0" in problem


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        pytest.param(
            "https://ghe.example.com/api/v3/",
            "https://ghe.example.com/api/v3",
            id="enterprise",
        ),
        pytest.param("http://127.0.0.1:9000", "http://127.0.0.1:9000", id="local"),
    ],
)
def test_github_api_url_is_kept_without_trailing_slash(
    environ: dict[str, str], url: str, kept: str
) -> None:
    environ["WANDB_INJECT_GITHUB_API_URL"] = url

    assert Settings.from_environment(environ).github_api_url == kept


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ghe.example.com/api/v3", id="no-scheme"),
        pytest.param("ftp://ghe.example.com", id="ftp"),
        pytest.param("https://", id="no-host"),
    ],
)
def test_bad_github_api_urls_are_a_problem(environ: dict[str, str], url: str) -> None:
    environ["WANDB_INJECT_GITHUB_API_URL"] = url

    [problem] = problems(environ)

    assert problem.startswith("WANDB_INJECT_GITHUB_API_URL")


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [
        pytest.param("0.0.0.0:9000", "0.0.0.0", 9000, id="all-ipv4"),
        pytest.param("localhost:80", "localhost", 80, id="name"),
        pytest.param("[::1]:8000", "::1", 8000, id="ipv6"),
    ],
)
def test_listen_address_gives_host_and_port(
    environ: dict[str, str], listen: str, host: str, port: int
) -> None:
    environ["WANDB_INJECT_LISTEN"] = listen

    settings = Settings.from_environment(environ)

    assert (settings.listen_host, settings.listen_port) == (host, port)


@pytest.mark.parametrize(
    "listen",
    [
        pytest.param("8000", id="port-only"),
        pytest.param(":8000", id="no-host"),
        pytest.param("localhost:", id="no-port"),
        pytest.param("localhost:http", id="port-name"),
        pytest.param("localhost:0", id="port-zero"),
        pytest.param("localhost:65536", id="port-too-big"),
        pytest.param("[::1]", id="ipv6-no-port"),
        pytest.param("::1:8000", id="ipv6-unbracketed"),
        pytest.param("[::1:8000", id="ipv6-half-bracketed"),
    ],
)
def test_bad_listen_addresses_are_a_problem(
    environ: dict[str, str], listen: str
) -> None:
    environ["WANDB_INJECT_LISTEN"] = listen

    [problem] = problems(environ)

    assert problem.startswith("WANDB_INJECT_LISTEN")


def test_bot_login_ending_in_bot_is_kept(environ: dict[str, str]) -> None:
    environ["WANDB_INJECT_BOT_LOGIN"] = "wandb-inject[bot]"

    assert Settings.from_environment(environ).bot_login == "wandb-inject[bot]"


def test_no_secret_shows_in_repr(environ: dict[str, str], pem_key: str) -> None:
    environ["WANDB_INJECT_QUEUE"] = "rediss://default:hunter2@cache:6380/0"

    shown = repr(Settings.from_environment(environ))

    assert SECRET not in shown
    assert "PRIVATE KEY" not in shown
    assert pem_key.splitlines()[1] not in shown
    assert "hunter2" not in shown
    assert "'rediss://default:***@cache:6380/0'" in shown
    assert "app_id=123456" in shown


def test_scan_settings_are_read_and_off_by_default(environ: dict[str, str]) -> None:
    default = Settings.from_environment(environ)
    environ |= {
        "WANDB_INJECT_SCAN_SCHEDULE": " 0  3 * * 1-5 ",
        "WANDB_INJECT_SCAN_MODE": "dashboard",
        "WANDB_INJECT_SCAN_PULLS_PER_HOUR": "2",
        "WANDB_INJECT_SCAN_OPEN_PULLS": "7",
    }

    chosen = Settings.from_environment(environ)

    assert (default.scan_schedule, default.scan_mode) == (None, "pulls")
    assert (default.scan_pulls_per_hour, default.scan_open_pulls) == (5, 10)
    assert (chosen.scan_schedule, chosen.scan_mode) == ("0 3 * * 1-5", "dashboard")
    assert (chosen.scan_pulls_per_hour, chosen.scan_open_pulls) == (2, 7)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SCAN_SCHEDULE", "0 3 * *", "expected five cron fields"),
        ("SCAN_SCHEDULE", "0 25 * * *", "25 is not a valid input"),
        ("SCAN_MODE", "issues", "expected one of pulls, dashboard"),
        ("SCAN_PULLS_PER_HOUR", "0", "expected a whole number >= 1"),
    ],
    ids=["four-fields", "hour-25", "unknown-mode", "zero-cap"],
)
def test_bad_scan_settings_are_named(
    environ: dict[str, str], name: str, value: str, expected: str
) -> None:
    environ[f"WANDB_INJECT_{name}"] = value

    [problem] = problems(environ)

    assert problem.startswith(f"WANDB_INJECT_{name}: ") and expected in problem
