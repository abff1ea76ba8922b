"""The `scan-org` command: an organisation scan run by hand, with its summary."""

from __future__ import annotations

import argparse

from bot.console import EXIT_ERROR, Parser, print_error
from bot.settings import Settings, SettingsError

DEFAULT_JOBS = 4


def add_scan_org_command(commands: argparse._SubParsersAction[Parser]) -> None:
    command = commands.add_parser(
        "scan-org",
        help="scan an installation's repositories and open pull requests",
        description=(
            "Scan every repository the app can see in one installation (or all) "
            "for training scripts, and open a pull request in each that needs W&B "
            "tracking, within the app's pull request limits. Uses the app's "
            "WANDB_INJECT_* settings."
        ),
    )
    command.add_argument(
        "target",
        nargs="?",
        metavar="ACCOUNT",
        help="an installation id or an account's login (default: every one)",
    )
    command.add_argument(
        "--dry-run",
        action="store_true",
        help="push, open and record nothing; say what would be done",
    )
    command.add_argument("--json", action="store_true", help="print one JSON object")
    command.add_argument(
        "--jobs",
        type=_jobs,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"repositories scanned at once (default: {DEFAULT_JOBS})",
    )
    command.add_argument(
        "--queue",
        action="store_true",
        help="queue one job per repository for the workers instead",
    )
    command.set_defaults(handler=run_scan_org)


def run_scan_org(args: argparse.Namespace) -> int:
    """The `scan-org` command."""
    try:
        settings = Settings.from_environment()
    except SettingsError as error:
        print_error(str(error))
        return EXIT_ERROR
    # Imported here: the other commands need neither githubkit nor the codemods.
    from bot.scan_run import scan_org

    return scan_org(settings, args)


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return int(text)
