"""The `serve` and `worker` commands: the GitHub App's web server and job consumer."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from bot.console import EXIT_ERROR, EXIT_OK, Parser, print_error
from bot.logs import LOG_FORMATS, configure_logging
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

LOG_LEVELS = ("debug", "info", "warning", "error")
# Two job threads: an acknowledgement need not wait behind a long job.
DEFAULT_WORKERS = 2


def add_serve_command(commands: argparse._SubParsersAction[Parser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the GitHub App: its webhook endpoint, and jobs unless on Redis",
        description=(
            "Serve POST /webhook, GET /healthz, GET /readyz and GET /metrics on "
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
    command.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="auto",
        help="one JSON object a line, or text (default: text on a terminal only)",
    )


def run_serve(args: argparse.Namespace) -> int:
    """The `serve` command."""
    try:
        setup = registration_settings()
    except SettingsError as error:
        print_error(str(error))
        return EXIT_ERROR
    if setup is not None:
        # No secret exists yet; the ones registration brings never reach a log.
        _configure_logging(args, ())
        return _serve_registration(setup, args)
    settings = _settings()
    if settings is None:
        return EXIT_ERROR
    _configure_logging(args, (settings.webhook_secret, settings.private_key))
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
            settings = Settings.from_environment()
            _configure_logging(args, (settings.webhook_secret, settings.private_key))
            app = _webhook_app(settings, args)
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
    _configure_logging(args, (settings.webhook_secret, settings.private_key))
    from bot.metrics import Metrics
    from bot.queue import flow_handlers, open_queue
    from bot.store import open_store

    store = open_store(settings)
    metrics = Metrics(store)
    queue = open_queue(settings, flow_handlers(settings, metrics), metrics=metrics)
    try:
        queue.run_consumer(args.workers)
    finally:
        store.close()
    return EXIT_OK


def _settings() -> Settings | None:
    try:
        return Settings.from_environment()
    except SettingsError as error:
        print_error(str(error))
        return None


def _configure_logging(args: argparse.Namespace, secrets: Iterable[str]) -> None:
    # The settings' secrets are blotted out of any line that would hold one.
    configure_logging(args.log_level, args.log_format, tuple(secrets))


def _worker_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return int(text)
