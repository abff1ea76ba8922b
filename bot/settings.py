"""The app's settings, read from WANDB_INJECT_* variables and checked all at once."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

PREFIX = "WANDB_INJECT_"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_LISTEN = "127.0.0.1:8000"
DEFAULT_DATA_DIR = "~/.local/share/wandb-inject"
SQLITE_SCHEME = "sqlite://"
SCAN_MODES = ("pulls", "dashboard")
# Conservative: a scan of a large organisation opens its pull requests over days.
DEFAULT_SCAN_PULLS_PER_HOUR = 5
DEFAULT_SCAN_OPEN_PULLS = 10
CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")
REDIS_SCHEMES = ("redis", "rediss")

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
        app_id = reader.required("APP_ID", _positive_int)
        private_key = reader.private_key()
        webhook_secret = reader.required("WEBHOOK_SECRET", _as_is)
        data_dir = reader.optional("DATA_DIR", DEFAULT_DATA_DIR, _data_dir)
        default_queue = f"{SQLITE_SCHEME}{data_dir or DEFAULT_DATA_DIR}/queue.db"
        queue_url = reader.optional("QUEUE", default_queue, _queue_url)
        api_url = reader.optional("GITHUB_API_URL", DEFAULT_API_URL, _http_url)
        listen = reader.optional("LISTEN", DEFAULT_LISTEN, _host_and_port)
        bot_login = reader.optional("BOT_LOGIN", "", _bot_login)
        schedule = reader.optional("SCAN_SCHEDULE", "", _cron)
        scan_mode = reader.optional("SCAN_MODE", "pulls", _scan_mode)
        per_hour = reader.optional(
            "SCAN_PULLS_PER_HOUR", str(DEFAULT_SCAN_PULLS_PER_HOUR), _limit
        )
        open_pulls = reader.optional(
            "SCAN_OPEN_PULLS", str(DEFAULT_SCAN_OPEN_PULLS), _limit
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
            bot_login=bot_login or None,
            scan_schedule=schedule or None,
            scan_mode=scan_mode,
            scan_pulls_per_hour=per_hour,
            scan_open_pulls=open_pulls,
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

    def private_key(self) -> str | None:
        inline = self.environ.get(f"{PREFIX}PRIVATE_KEY", "").strip()
        path = self.environ.get(f"{PREFIX}PRIVATE_KEY_PATH", "").strip()
        if inline and path:
            self.problems.append(
                f"set {PREFIX}PRIVATE_KEY or {PREFIX}PRIVATE_KEY_PATH, not both"
            )
            return None
        if path:
            return self._checked("PRIVATE_KEY_PATH", path, _key_file)
        if inline:
            return self._checked("PRIVATE_KEY", inline, _key_text)
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


def redacted_url(url: str) -> str:
    """`url` with the password it carries, if any, replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return SplitResult(
        parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment
    ).geturl()


def _is_number(text: str) -> bool:
    # str.isdigit() also passes digits like "²" that int() refuses.
    return text.isascii() and text.isdigit()


def _positive_int(text: str) -> int:
    if not _is_number(text) or int(text) < 1:
        raise ValueError(f"expected the app's numeric id, not {text!r}")
    return int(text)


def _as_is(text: str) -> str:
    return text


def _key_text(text: str) -> str:
    # Keys pasted into a one-line variable often carry their line breaks as `\n`.
    key = text.replace("\\n", "\n") if "\n" not in text else text
    if not ("-----BEGIN" in key and "PRIVATE KEY-----" in key):
        # Never echo the value: it may be a real key, pasted wrongly.
        raise ValueError("does not look like a PEM private key (-----BEGIN ...)")
    return key


def _key_file(text: str) -> str:
    path = Path(text).expanduser()
    try:
        content = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ValueError(f"cannot read {str(path)!r}: {reason}") from None
    try:
        return _key_text(content.strip())
    except ValueError:
        raise ValueError(
            f"{str(path)!r} does not hold a PEM private key (-----BEGIN ...)"
        ) from None


def _data_dir(text: str) -> Path:
    path = Path(text).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{str(path)!r} exists and is not a folder")
    return path


def _queue_url(text: str) -> str:
    # Never echo a password the URL may carry.
    shown = redacted_url(text)
    parts = urlsplit(text)
    if parts.scheme in REDIS_SCHEMES:
        if not parts.hostname:
            raise ValueError(f"{shown!r} names no Redis host")
        if not _port_is_valid(parts):
            raise ValueError(f"{shown!r} has a bad port")
        return text
    if text.startswith(SQLITE_SCHEME):
        path = Path(text.removeprefix(SQLITE_SCHEME)).expanduser()
        if not path.is_absolute() or path.is_dir():
            raise ValueError(
                f"expected sqlite:///absolute/path/queue.db, not {shown!r}"
            )
        return SQLITE_SCHEME + str(path)
    raise ValueError(
        f"expected sqlite:///path/queue.db or redis://host:port/db, not {shown!r}"
    )


def _port_is_valid(parts: SplitResult) -> bool:
    try:
        return parts.port is None or parts.port >= 1
    except ValueError:
        # Not a number, or past 65535.
        return False


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "expected the API's address, like https://api.github.com or "
            f"https://github.example.com/api/v3, not {text!r}"
        )
    return text.rstrip("/")


def _host_and_port(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    # An IPv6 address needs its brackets: in "::1:8000" the port is a guess.
    unbracketed_v6 = not bracketed and any(mark in host for mark in ":[]")
    if not (colon and host and _is_number(port)) or unbracketed_v6:
        raise ValueError(f"expected HOST:PORT, like {DEFAULT_LISTEN}, not {text!r}")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"the port must be 1 to 65535, not {port}")
    return host, int(port)


def _bot_login(text: str) -> str:
    if text and not (text.endswith("[bot]") and len(text) > len("[bot]")):
        raise ValueError(f"expected the app's bot user, like my-app[bot], not {text!r}")
    return text


def cron_fields(text: str) -> dict[str, str]:
    """A five-field cron expression as huey's crontab arguments; ValueError if bad."""
    # Imported here: reading settings need not load the queue's library.
    from huey import crontab  # type: ignore[import-untyped]

    values = text.split()
    if len(values) != len(CRON_FIELDS):
        raise ValueError(
            f"expected five cron fields (minute hour day month weekday), "
            f'like "0 3 * * *", not {text!r}'
        )
    fields = dict(zip(CRON_FIELDS, values, strict=True))
    try:
        crontab(**fields, strict=True)
    except ValueError as error:
        raise ValueError(
            f"{text!r} is not a cron expression huey takes: {error}"
        ) from None
    return fields


def _cron(text: str) -> str:
    if text:
        cron_fields(text)
    return " ".join(text.split())


def _scan_mode(text: str) -> str:
    if text not in SCAN_MODES:
        raise ValueError(f"expected one of {', '.join(SCAN_MODES)}, not {text!r}")
    return text


def _limit(text: str) -> int:
    if not _is_number(text) or int(text) < 1:
        raise ValueError(f"expected a whole number >= 1, not {text!r}")
    return int(text)
