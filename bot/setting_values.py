"""The check each setting's text goes through: its value, or a ValueError saying why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

DEFAULT_LISTEN = "127.0.0.1:8000"
DEFAULT_WEB_URL = "https://github.com"
# GitHub Enterprise Server answers its API under /api/v3 of its web address.
ENTERPRISE_API_PATH = "/api/v3"
SQLITE_SCHEME = "sqlite://"
REDIS_SCHEMES = ("redis", "rediss")
CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")


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


def is_number(text: str) -> bool:
    # str.isdigit() also passes digits like "²" that int() refuses.
    return text.isascii() and text.isdigit()


def positive_int(text: str) -> int:
    if not is_number(text) or int(text) < 1:
        raise ValueError(f"expected the app's numeric id, not {text!r}")
    return int(text)


def as_is(text: str) -> str:
    return text


def key_text(text: str) -> str:
    # Keys pasted into a one-line variable often carry their line breaks as `\n`.
    key = text.replace("\\n", "\n") if "\n" not in text else text
    if not ("-----BEGIN" in key and "PRIVATE KEY-----" in key):
        # Never echo the value: it may be a real key, pasted wrongly.
        raise ValueError("does not look like a PEM private key (-----BEGIN ...)")
    return key


def key_file(text: str) -> str:
    path = Path(text).expanduser()
    try:
        content = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ValueError(f"cannot read {str(path)!r}: {reason}") from None
    try:
        return key_text(content.strip())
    except ValueError:
        raise ValueError(
            f"{str(path)!r} does not hold a PEM private key (-----BEGIN ...)"
        ) from None


def data_dir(text: str) -> Path:
    path = Path(text).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{str(path)!r} exists and is not a folder")
    return path


def queue_url(text: str) -> str:
    # Never echo a password the URL may carry.
    shown = redacted_url(text)
    parts = urlsplit(text)
    if parts.scheme in REDIS_SCHEMES:
        if not parts.hostname:
            raise ValueError(f"{shown!r} names no Redis host")
        if not port_is_valid(parts):
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


def port_is_valid(parts: SplitResult) -> bool:
    try:
        return parts.port is None or parts.port >= 1
    except ValueError:
        # Not a number, or past 65535.
        return False


def http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "expected the API's address, like https://api.github.com or "
            f"https://github.example.com/api/v3, not {text!r}"
        )
    return text.rstrip("/")


def web_url_for(api_url: str) -> str:
    if api_url.endswith(ENTERPRISE_API_PATH):
        return api_url.removesuffix(ENTERPRISE_API_PATH)
    return DEFAULT_WEB_URL


def public_url(text: str) -> str:
    if not text:
        return text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError(
            "expected the address GitHub reaches this server at, like "
            f"https://wandb-inject.example.com, not {text!r}"
        )
    return text.rstrip("/")


def host_and_port(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    # An IPv6 address needs its brackets: in "::1:8000" the port is a guess.
    unbracketed_v6 = not bracketed and any(mark in host for mark in ":[]")
    if not (colon and host and is_number(port)) or unbracketed_v6:
        raise ValueError(f"expected HOST:PORT, like {DEFAULT_LISTEN}, not {text!r}")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"the port must be 1 to 65535, not {port}")
    return host, int(port)


def bot_login(text: str) -> str:
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


def cron(text: str) -> str:
    if text:
        cron_fields(text)
    return " ".join(text.split())


def limit(text: str) -> int:
    if not is_number(text) or int(text) < 1:
        raise ValueError(f"expected a whole number >= 1, not {text!r}")
    return int(text)


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """A check that the text is one of `choices`."""

    def chosen(text: str) -> str:
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, not {text!r}")
        return text

    return chosen
