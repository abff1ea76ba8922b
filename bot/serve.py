"""The `serve` and `worker` commands: the GitHub App's web server and job consumer."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from bot.console import EXIT_ERROR, EXIT_OK, Parser, print_error
from bot.settings import (
    RegistrationSettings,
    Settings,
    SettingsError,
    registration_settings,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.types import ASGIApp

    from bot.credentials import Credentials

logger = logging.getLogger(__name__)

# Context that log calls pass in `extra=`, printed after the message.
CONTEXT_KEYS = (
    "delivery",
    "event",
    "repo",
    "installation",
    "trigger",
    "status",
    "outcome",
    "reason",
    "delay",
    "attempts",
    "lock",
    "task",
    "app",
    "url",
    "path",
)
LOG_LEVELS = ("debug", "info", "warning", "error")
# Two job threads: an acknowledgement need not wait behind a long job.
DEFAULT_WORKERS = 2


class ContextFormatter(logging.Formatter):
    """A log line with the context its call passed, as key=value pairs."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = [
            f"{key}={getattr(record, key)}"
            for key in CONTEXT_KEYS
            if getattr(record, key, "") not in ("", None)
        ]
        if not pairs:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} {' '.join(pairs)}{newline}{rest}"


def add_serve_command(commands: argparse._SubParsersAction[Parser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the GitHub App: its webhook endpoint, and jobs unless on Redis",
        description=(
            "Serve POST /webhook, GET /healthz and GET /readyz on "
            "WANDB_INJECT_LISTEN. With a SQLite queue, jobs run in this process; "
            "with Redis, run `wandb-inject worker` beside it, or pass --with-worker. "
            "Without the app's credentials, serve a page at /register that creates "
            "the app on GitHub from app.yml, stores them, and starts."
        ),
    )
    where = serve.add_mutually_exclusive_group()
    where.add_argument(
        "--with-worker",
        action="store_true",
        help="run jobs in this process (the default with a SQLite queue)",
    )
    where.add_argument(
        "--web-only",
        action="store_true",
        help="only queue jobs; a `wandb-inject worker` runs them",
    )
    _add_common_options(serve)
    serve.set_defaults(handler=run_serve)


def add_worker_command(commands: argparse._SubParsersAction[Parser]) -> None:
    worker = commands.add_parser(
        "worker",
        help="run the GitHub App's queued jobs",
        description=(
            "Run the jobs that `wandb-inject serve` queues, until SIGINT or SIGTERM. "
            "A SQLite queue takes one consumer: this, or serve's own."
        ),
    )
    _add_common_options(worker)
    worker.set_defaults(handler=run_worker)


def _add_common_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--workers",
        type=_worker_count,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"jobs run at once (default: {DEFAULT_WORKERS})",
    )
    command.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", help="(default: info)"
    )


def run_serve(args: argparse.Namespace) -> int:
    """The `serve` command."""
    try:
        setup = registration_settings()
    except SettingsError as error:
        print_error(str(error))
        return EXIT_ERROR
    if setup is not None:
        _configure_logging(args.log_level)
        return _serve_registration(setup, args)
    settings = _settings()
    if settings is None:
        return EXIT_ERROR
    _configure_logging(args.log_level)
    _serve(_webhook_app(settings, args), settings.listen_host, settings.listen_port)
    return EXIT_OK


def _webhook_app(settings: Settings, args: argparse.Namespace) -> Starlette:
    # Imported here, as in run_worker: the other commands need neither the web
    # stack nor the queue, and loading them costs a quarter of a second.
    from bot.app import create_app

    in_process = args.with_worker or not (settings.uses_redis or args.web_only)
    return create_app(settings, workers=args.workers if in_process else 0)


def _serve_registration(setup: RegistrationSettings, args: argparse.Namespace) -> int:
    """Serve the registration page, then the app it registers, in this process."""
    from bot.registration import REGISTRATION_PATHS, create_registration_app
    from bot.switchboard import Switchboard

    async def registered(credentials: Credentials) -> bool:
        try:
            app = _webhook_app(Settings.from_environment(), args)
            await board.switch_to(app)
        except Exception:
            logger.exception("registered, but could not start: restart serve")
            return False
        logger.info("serving webhooks", extra={"app": credentials.slug})
        return True

    board = Switchboard(create_registration_app(setup, registered), REGISTRATION_PATHS)
    host = setup.listen_host
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    where = setup.public_url or f"http://{shown}:{setup.listen_port}"
    logger.info(
        "no app credentials: open the registration page",
        extra={"url": f"{where}/register"},
    )
    _serve(board, setup.listen_host, setup.listen_port)
    return EXIT_OK


def _serve(app: ASGIApp, host: str, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # Our own line per delivery replaces the access log; logging is ours.
        access_log=False,
        log_config=None,
        lifespan="on",
    )
    uvicorn.Server(config).run()


def run_worker(args: argparse.Namespace) -> int:
    """The `worker` command."""
    settings = _settings()
    if settings is None:
        return EXIT_ERROR
    _configure_logging(args.log_level)
    from bot.queue import flow_handlers, open_queue

    open_queue(settings, flow_handlers(settings)).run_consumer(args.workers)
    return EXIT_OK


def _settings() -> Settings | None:
    try:
        return Settings.from_environment()
    except SettingsError as error:
        print_error(str(error))
        return None


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def _worker_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return int(text)
