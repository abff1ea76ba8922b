"""The app's settings, read from WANDB_INJECT_* variables and checked all at once."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from bot import setting_values as check
from bot.credentials import Credentials, CredentialsError, load_credentials
from bot.setting_values import (
    DEFAULT_LISTEN,
    REDIS_SCHEMES,
    SQLITE_SCHEME,
    redacted_url,
)

PREFIX = "WANDB_INJECT_"
DEFAULT_API_URL = "https://api.github.com"
# Any of these set means the credentials come from the environment, not a file.
CREDENTIAL_VARIABLES = ("APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET")
DEFAULT_DATA_DIR = "~/.local/share/wandb-inject"
SCAN_MODES = ("pulls", "dashboard")
# Conservative: a scan of a large organisation opens its pull requests over days.
DEFAULT_SCAN_PULLS_PER_HOUR = 5
DEFAULT_SCAN_OPEN_PULLS = 10

_Value = TypeVar("_Value")


class SettingsError(Exception):
    """Every missing or bad setting, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"the app's settings are incomplete:\n{lines}")


@dataclass(frozen=True)
class Settings:
    """What the web app and the worker need; no secret of theirs shows in repr."""

    app_id: int
    private_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    queue_url: str
    github_api_url: str
    listen_host: str
    listen_port: int
    data_dir: Path
    bot_login: str | None = None
    # Organisation scans: a cron expression (None: no scheduled scan), whether
    # they open pull requests or dashboard issues, and their pull request limits.
    scan_schedule: str | None = None
    scan_mode: str = "pulls"
    scan_pulls_per_hour: int = DEFAULT_SCAN_PULLS_PER_HOUR
    scan_open_pulls: int = DEFAULT_SCAN_OPEN_PULLS

    def __repr__(self) -> str:
        # A Redis URL may carry its password: that stays out as well.
        shown = {
            item.name: getattr(self, item.name) for item in fields(self) if item.repr
        }
        shown["queue_url"] = redacted_url(self.queue_url)
        values = ", ".join(f"{name}={value!r}" for name, value in shown.items())
        return f"{type(self).__name__}({values})"

    @property
    def uses_redis(self) -> bool:
        return urlsplit(self.queue_url).scheme in REDIS_SCHEMES

    @property
    def sqlite_queue_path(self) -> Path:
        """The queue's file, for a `sqlite:///path` queue URL."""
        return Path(self.queue_url.removeprefix(SQLITE_SCHEME))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check every setting; raise SettingsError naming all problems."""
        reader = _Reader(os.environ if environ is None else environ)
        app_id, private_key, webhook_secret, stored_login = reader.credentials()
        data_dir = reader.optional("DATA_DIR", DEFAULT_DATA_DIR, check.data_dir)
        default_queue = f"{SQLITE_SCHEME}{data_dir or DEFAULT_DATA_DIR}/queue.db"
        queue_url = reader.optional("QUEUE", default_queue, check.queue_url)
        api_url = reader.optional("GITHUB_API_URL", DEFAULT_API_URL, check.http_url)
        listen = reader.optional("LISTEN", DEFAULT_LISTEN, check.host_and_port)
        bot_login = reader.optional("BOT_LOGIN", "", check.bot_login)
        schedule = reader.optional("SCAN_SCHEDULE", "", check.cron)
        scan_mode = reader.optional("SCAN_MODE", "pulls", check.one_of(SCAN_MODES))
        per_hour = reader.optional(
            "SCAN_PULLS_PER_HOUR", str(DEFAULT_SCAN_PULLS_PER_HOUR), check.limit
        )
        open_pulls = reader.optional(
            "SCAN_OPEN_PULLS", str(DEFAULT_SCAN_OPEN_PULLS), check.limit
        )
        if reader.problems:
            raise SettingsError(reader.problems)
        # Narrowing only: every value that came back None added a problem.
        assert app_id and private_key and webhook_secret and data_dir
        assert queue_url and api_url and listen and bot_login is not None
        assert schedule is not None and scan_mode and per_hour and open_pulls
        return cls(
            app_id=app_id,
            private_key=private_key,
            webhook_secret=webhook_secret,
            queue_url=queue_url,
            github_api_url=api_url,
            listen_host=listen[0],
            listen_port=listen[1],
            data_dir=data_dir,
            bot_login=bot_login or stored_login or None,
            scan_schedule=schedule or None,
            scan_mode=scan_mode,
            scan_pulls_per_hour=per_hour,
            scan_open_pulls=open_pulls,
        )


@dataclass(frozen=True)
class RegistrationSettings:
    """What the registration page needs: where to listen, store and find GitHub."""

    data_dir: Path
    github_api_url: str
    github_url: str
    listen_host: str
    listen_port: int
    # Where GitHub reaches this server; None: the address the browser used.
    public_url: str | None = None


def registration_settings(
    environ: Mapping[str, str] | None = None,
) -> RegistrationSettings | None:
    """Settings for registering the app; None once it has credentials.

    Credentials in the environment, even some of them, or a stored file (even a
    broken one) mean registration is over: Settings.from_environment reports
    what is wrong with them.
    """
    reader = _Reader(os.environ if environ is None else environ)
    data_dir = reader.optional("DATA_DIR", DEFAULT_DATA_DIR, check.data_dir)
    if reader.names_credentials() or (data_dir and reader.has_stored(data_dir)):
        return None
    api_url = reader.optional("GITHUB_API_URL", DEFAULT_API_URL, check.http_url)
    web_default = check.web_url_for(api_url or DEFAULT_API_URL)
    web_url = reader.optional("GITHUB_URL", web_default, check.http_url)
    listen = reader.optional("LISTEN", DEFAULT_LISTEN, check.host_and_port)
    public_url = reader.optional("PUBLIC_URL", "", check.public_url)
    if reader.problems:
        raise SettingsError(reader.problems)
    assert data_dir and api_url and web_url and listen and public_url is not None
    return RegistrationSettings(
        data_dir, api_url, web_url, listen[0], listen[1], public_url or None
    )


class _Reader:
    """Reads variables and collects what is wrong with them, instead of stopping."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def required(self, name: str, check: Callable[[str], _Value]) -> _Value | None:
        text = self.environ.get(PREFIX + name, "").strip()
        if not text:
            self.problems.append(f"{PREFIX}{name} is not set")
            return None
        return self._checked(name, text, check)

    def optional(
        self, name: str, default: str, check: Callable[[str], _Value]
    ) -> _Value | None:
        text = self.environ.get(PREFIX + name, "").strip() or default
        return self._checked(name, text, check)

    def names_credentials(self) -> bool:
        return any(
            self.environ.get(PREFIX + name, "").strip() for name in CREDENTIAL_VARIABLES
        )

    def has_stored(self, data_dir: Path) -> bool:
        try:
            return load_credentials(data_dir) is not None
        except CredentialsError:
            return True

    def credentials(
        self,
    ) -> tuple[int | None, str | None, str | None, str | None]:
        """Id, key, secret and bot login: the environment's, else the stored file's."""
        stored = None if self.names_credentials() else self._stored()
        if isinstance(stored, Credentials):
            key, secret = stored.private_key, stored.webhook_secret
            return stored.app_id, key, secret, stored.bot_login
        if stored is not None:
            # The file's problem is named; the variables' absence would be noise.
            return None, None, None, None
        app_id = self.required("APP_ID", check.positive_int)
        private_key = self.private_key()
        webhook_secret = self.required("WEBHOOK_SECRET", check.as_is)
        return app_id, private_key, webhook_secret, None

    def _stored(self) -> Credentials | CredentialsError | None:
        text = self.environ.get(f"{PREFIX}DATA_DIR", "").strip() or DEFAULT_DATA_DIR
        try:
            return load_credentials(check.data_dir(text))
        except CredentialsError as error:
            self.problems.append(f"{PREFIX}DATA_DIR: {error}")
            return error
        except ValueError:
            # Not a folder: the DATA_DIR check names it.
            return None

    def private_key(self) -> str | None:
        inline = self.environ.get(f"{PREFIX}PRIVATE_KEY", "").strip()
        path = self.environ.get(f"{PREFIX}PRIVATE_KEY_PATH", "").strip()
        if inline and path:
            self.problems.append(
                f"set {PREFIX}PRIVATE_KEY or {PREFIX}PRIVATE_KEY_PATH, not both"
            )
            return None
        if path:
            return self._checked("PRIVATE_KEY_PATH", path, check.key_file)
        if inline:
            return self._checked("PRIVATE_KEY", inline, check.key_text)
        self.problems.append(
            f"{PREFIX}PRIVATE_KEY (the app's PEM key) or {PREFIX}PRIVATE_KEY_PATH "
            "(a file holding it) is not set"
        )
        return None

    def _checked(
        self, name: str, text: str, check: Callable[[str], _Value]
    ) -> _Value | None:
        try:
            return check(text)
        except ValueError as error:
            self.problems.append(f"{PREFIX}{name}: {error}")
            return None
