"""The registered app's credentials, kept in one file only its owner can read."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bot.files import replace_file

CREDENTIALS_FILE = "app-credentials.json"
# Group and others get nothing: the file holds the app's private key.
PRIVATE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


class CredentialsError(ValueError):
    """The stored file is unreadable, malformed or readable by others."""


@dataclass(frozen=True)
class Credentials:
    """What GitHub's manifest conversion returns that the app needs to run."""

    app_id: int
    slug: str
    private_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    html_url: str = ""

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


def credentials_path(data_dir: Path) -> Path:
    return data_dir / CREDENTIALS_FILE


def store_credentials(data_dir: Path, credentials: Credentials) -> Path:
    """Write the file atomically, mode 0600 from its first byte; its path."""
    data_dir.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    target = credentials_path(data_dir)
    data = json.dumps(asdict(credentials), indent=2).encode()
    replace_file(target, data)
    _sync_folder(data_dir)
    return target


def load_credentials(data_dir: Path) -> Credentials | None:
    """The stored credentials; None when there is no file."""
    path = credentials_path(data_dir)
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise CredentialsError(f"cannot read {str(path)!r}: {error}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise CredentialsError(
            f"{str(path)!r} is readable by others: `chmod 600` it, and consider the "
            "app's key exposed (generate a new one in the app's settings)"
        )
    return _parsed(path, text)


def _parsed(path: Path, text: str) -> Credentials:
    try:
        data = json.loads(text)
        credentials = Credentials(
            app_id=int(data["app_id"]),
            slug=str(data["slug"]),
            private_key=str(data["private_key"]),
            webhook_secret=str(data["webhook_secret"]),
            html_url=str(data.get("html_url", "")),
        )
    except (ValueError, KeyError, TypeError) as error:
        # Never echo the content: it holds the key.
        reason = type(error).__name__
        raise CredentialsError(
            f"{str(path)!r} is not a credentials file ({reason})"
        ) from None
    if "PRIVATE KEY-----" not in credentials.private_key:
        raise CredentialsError(f"{str(path)!r} holds no PEM private key")
    return credentials


def _sync_folder(folder: Path) -> None:
    # The rename itself reaches the disk only once the folder is synced.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
