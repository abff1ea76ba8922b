"""Log lines: JSON off a terminal, one per event with its context, never a secret."""

from __future__ import annotations

import base64
import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from deliveries import Sender, asking_repo, run_jobs
from fakehub.fixtures import Hub, KeyPair
from loopback import serve

from bot.app import create_app
from bot.logs import (
    REDACTED,
    ContextFormatter,
    JsonFormatter,
    Redactor,
    configure_logging,
)
from bot.metrics import Metrics
from bot.queue import flow_handlers, open_queue
from bot.settings import Settings
from bot.store import open_store

OWNER, NAME, MAINTAINER = "acme", "digits", "alice"
WEBHOOK_SECRET = "s3cret-of-the-hook"


class Captured:
    """A logger whose lines, formatted by `formatter`, land in `text`."""

    def __init__(self, formatter: logging.Formatter, name: str = "test.logs") -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.logger = logging.getLogger(name)
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.DEBUG)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(logging.NOTSET)


@pytest.fixture
def json_log() -> Iterator[Captured]:
    captured = Captured(JsonFormatter())
    yield captured
    captured.close()


@pytest.fixture
def root_restored() -> Iterator[None]:
    """The root logger's handlers and level, put back after configure_logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_json_line_has_time_level_logger_message_and_context(
    json_log: Captured,
) -> None:
    context = {"delivery": "d-1", "installation": 42, "repo": "acme/digits"}

    json_log.logger.info("job %s", "started", extra={**context, "job": "j-9"})

    [entry] = json_log.entries()
    assert entry == {
        "time": entry["time"],
        "level": "info",
        "logger": "test.logs",
        "message": "job started",
        **context,
        "job": "j-9",
    }
    assert entry["time"].endswith("Z")
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None


def test_an_exception_is_a_string_field_on_the_same_line(json_log: Captured) -> None:
    try:
        raise ValueError("broken\non two lines")
    except ValueError:
        json_log.logger.exception("job failed", extra={"delivery": "d-2"})

    [line] = json_log.text.splitlines()
    entry = json.loads(line)
    assert (entry["level"], entry["delivery"]) == ("error", "d-2")
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].endswith("ValueError: broken\non two lines")


def test_auto_writes_json_off_a_terminal_and_text_on_one(
    root_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = {}
    for terminal in (False, True):
        stream = io.StringIO()
        monkeypatch.setattr(stream, "isatty", lambda terminal=terminal: terminal)
        monkeypatch.setattr(sys, "stderr", stream)
        configure_logging("info", "auto")
        logging.getLogger("bot.test").info("ready", extra={"delivery": "d-3"})
        lines[terminal] = stream.getvalue()

    assert json.loads(lines[False])["delivery"] == "d-3"
    assert lines[True].rstrip().endswith("INFO bot.test: ready delivery=d-3")


def test_a_format_named_wins_over_the_terminal(
    root_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)

    configure_logging("warning", "text")
    logging.getLogger("bot.test").info("dropped")
    logging.getLogger("bot.test").warning("kept")

    assert stream.getvalue().rstrip().endswith("WARNING bot.test: kept")
    assert "dropped" not in stream.getvalue()


def secrets_to_hide(key: KeyPair) -> dict[str, tuple[str, str]]:
    """By name, a text that could reach a log line and the secret it holds."""
    body_line = key.private.splitlines()[3]
    basic = base64.b64encode(b"x-access-token:ghs_" + b"a" * 36).decode()
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiI0MjQyNDIifQ.c2lnbmF0dXJlLWJ5dGVz"
    pat = "github_pat_11ABCDEFG0123456789_abcdefghijklmnop"
    installation_token = "ghs_" + "A1b2C3d4" * 5
    escaped_key = key.private.replace("\n", "\\n")
    return {
        "installation token": (f"token={installation_token};", installation_token),
        "personal token": (f"url https://{pat}@github.com/x", pat),
        "jwt": (f"Bearer {jwt}", jwt),
        "basic header": (f"AUTHORIZATION: basic {basic}", basic),
        "webhook secret": (f"secret={WEBHOOK_SECRET}", WEBHOOK_SECRET),
        "private key": (key.private, key.private),
        "private key, escaped": (escaped_key, escaped_key),
        "a line of the key": (f"read {body_line} from", body_line),
    }


def hidden_parts(secret: str) -> list[str]:
    """What must not show: each line of it but a PEM key's armour."""
    lines = (line.strip() for line in secret.replace("\\n", "\n").splitlines())
    return [line for line in lines if not line.startswith("-----")]


@pytest.mark.parametrize("formatter", [JsonFormatter, ContextFormatter])
@pytest.mark.parametrize("where", ["message", "argument", "context", "exception"])
def test_no_secret_reaches_a_line_whatever_carries_it(
    app_keys: KeyPair, formatter: type[logging.Formatter], where: str
) -> None:
    redact = Redactor([WEBHOOK_SECRET, app_keys.private])
    captured = Captured(formatter(redact))  # type: ignore[call-arg]
    shown = secrets_to_hide(app_keys)
    try:
        for text, _ in shown.values():
            _log_carrying(captured.logger, text, where)
    finally:
        captured.close()

    logged = captured.text
    for name, (_, secret) in shown.items():
        for part in hidden_parts(secret):
            assert part not in logged, name
    assert logged.count(REDACTED) >= len(shown)
    assert logged.count("delivery=d-4") + logged.count('"delivery": "d-4"') == 8
    assert "AUTHORIZATION: basic [redacted]" in logged


def _log_carrying(logger: logging.Logger, secret: str, where: str) -> None:
    extra = {"delivery": "d-4"}
    if where == "message":
        logger.warning(f"git said: {secret}", extra=extra)
    elif where == "argument":
        logger.warning("git said: %s", secret, extra=extra)
    elif where == "context":
        logger.warning("git said", extra={**extra, "reason": secret})
    else:
        try:
            raise RuntimeError(secret)
        except RuntimeError:
            logger.exception("git failed", extra=extra)


def test_short_secrets_and_ordinary_words_are_left_alone() -> None:
    redact = Redactor(["short", "token"])

    line = "the token for delivery 72d3e5a0-5d7e-11ef-8f2a-0242ac120002 is short"

    assert redact(line) == line


def test_every_event_logs_one_line_with_its_context(
    github: Hub, bot_settings: Settings, root_restored: None
) -> None:
    world = github.world
    repo, issue = asking_repo(github, OWNER, NAME, MAINTAINER)
    installation = world.installation_for(repo.full_name)
    assert installation is not None
    store = open_store(bot_settings)
    metrics = Metrics(store)
    queue = open_queue(
        bot_settings, flow_handlers(bot_settings, metrics), metrics=metrics
    )
    github.api.fail_next("GET", f"/repos/{OWNER}/{NAME}", status=502)
    captured = Captured(JsonFormatter(), name="bot")
    logging.getLogger("bot").setLevel(logging.INFO)
    try:
        with serve(create_app(bot_settings)) as url:
            answer = Sender(github, url).comment(
                repo, issue.number, "/wandb-inject", MAINTAINER
            )
            run_jobs(queue)
    finally:
        captured.close()
        store.close()

    delivery = answer.request.headers["x-github-delivery"]
    entries = captured.entries()
    context = {
        "delivery": delivery,
        "installation": installation.id,
        "repo": repo.full_name,
    }
    by_message: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        assert entry.items() >= context.items(), entry
        by_message.setdefault(entry["message"], []).append(entry)
    assert {name: len(each) for name, each in by_message.items()} == {
        "webhook answered": 1,
        "request acknowledged": 1,
        "job started": 2,
        "job will retry": 1,
        "job done": 1,
    }
    [answered] = by_message["webhook answered"]
    assert (answered["event"], answered["outcome"]) == ("issue_comment", "queued")
    [done] = by_message["job done"]
    assert done["outcome"] == "pr_opened" and done["seconds"] > 0
    jobs = {entry["job"] for entry in entries if entry["logger"] == "bot.queue"}
    assert len(jobs) == 1 and "" not in jobs
