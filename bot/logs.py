"""Log lines for the app: text on a terminal, JSON elsewhere, secrets blotted out."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

# Context that log calls pass in `extra=`, printed after the message.
CONTEXT_KEYS = (
    "delivery",
    "event",
    "repo",
    "installation",
    "job",
    "trigger",
    "status",
    "outcome",
    "reason",
    "attempt",
    "seconds",
    "delay",
    "attempts",
    "lock",
    "task",
    "app",
    "url",
    "path",
)
LOG_FORMATS = ("auto", "json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"
# A secret shorter than this is left alone: blotting it out would garble
# ordinary words, and a secret that short is guessed sooner than leaked.
MIN_SECRET_LENGTH = 8
# What a credential looks like wherever it comes from: GitHub's tokens, a JWT
# (an app's), the value of an HTTP Authorization header, a PEM private key.
_TOKEN_SHAPES = (
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    r"(?i:(?<=basic )|(?<=bearer )|(?<=token ))[A-Za-z0-9+/=._-]{20,}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)",
)


class Redactor:
    """Replaces token-shaped text and the given secrets with REDACTED."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        literals = sorted(_secret_parts(secrets), key=len, reverse=True)
        shapes = [*_TOKEN_SHAPES, *(re.escape(each) for each in literals)]
        self._pattern = re.compile("|".join(shapes), re.DOTALL)

    def __call__(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text)


class ContextFormatter(logging.Formatter):
    """A log line with the context its call passed, as key=value pairs."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__(TEXT_FORMAT)
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        # Redacted apart, so that a key's block in the message takes no context.
        line = self.redact(super().format(record))
        pairs = [
            f"{key}={self.redact(str(value))}"
            for key, value in _context(record).items()
        ]
        if not pairs:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} {' '.join(pairs)}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, exception."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # Each string is redacted before JSON escapes it and hides a secret's shape.
        return json.dumps(
            {key: self._clean(value) for key, value in entry.items()},
            ensure_ascii=False,
        )

    def _clean(self, value: Any) -> Any:
        if isinstance(value, bool | int | float) or value is None:
            return value
        return self.redact(str(value))


def configure_logging(
    level: str, log_format: str = "auto", secrets: Iterable[str] = ()
) -> None:
    """Log to stderr at `level`: JSON unless it is a terminal (`auto`), or as told."""
    stream: TextIO = sys.stderr
    if log_format == "auto":
        log_format = "text" if stream.isatty() else "json"
    redact = Redactor(secrets)
    formatter: logging.Formatter = (
        JsonFormatter(redact) if log_format == "json" else ContextFormatter(redact)
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: getattr(record, key)
        for key in CONTEXT_KEYS
        if getattr(record, key, "") not in ("", None)
    }


def _secret_parts(secrets: Iterable[str]) -> set[str]:
    """Each secret whole, as an environment variable spells its line breaks, and
    line by line (a key's base64 lines), long enough to tell apart."""
    parts: set[str] = set()
    for secret in secrets:
        secret = secret.strip()
        lines = secret.replace("\\n", "\n").splitlines()
        for each in (secret, secret.replace("\n", "\\n"), *lines):
            each = each.strip()
            if len(each) >= MIN_SECRET_LENGTH and not each.startswith("-----"):
                parts.add(each)
    return parts
