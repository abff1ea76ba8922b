"""The `run` and `scan` commands: the bot's job and its choice of scripts, locally."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bot.console import EXIT_ERROR, EXIT_OK, Parser, print_error
from bot.diffs import should_color, unified_diff
from bot.job import LocalRun, run_in_repository
from bot.repo_config import CONFIG_PATH, RepoConfigError, load_repo_config
from bot.worktree import GitError
from injector.locate import Scan, locate


def add_run_command(commands: argparse._SubParsersAction[Parser]) -> None:
    run = commands.add_parser(
        "run",
        help="commit W&B tracking onto a new branch of a repository",
        description=(
            "Find the training scripts in a commit of REPO_DIR, add W&B tracking, "
            "commit that onto a new branch, and print the pull request's title and "
            "body. The working tree and the current branch are left alone."
        ),
    )
    run.add_argument("repo_dir", metavar="REPO_DIR", help="a local git repository")
    run.add_argument(
        "--base", help="branch or commit to start from (default: the current branch)"
    )
    run.add_argument(
        "--branch", help="name of the new branch (default: wandb-inject/BASE)"
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the diff and the body; create no branch and no commit",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.set_defaults(handler=run_run)


def add_scan_command(commands: argparse._SubParsersAction[Parser]) -> None:
    scan = commands.add_parser(
        "scan",
        help="list the training scripts the job would change, best first",
        description=(
            "List the candidate scripts under REPO_DIR with their score, role, "
            f"linked files and reasons, honouring {CONFIG_PATH}."
        ),
    )
    scan.add_argument("repo_dir", metavar="REPO_DIR", help="a folder to search")
    scan.add_argument("--json", action="store_true", help="print one JSON object")
    scan.set_defaults(handler=run_scan)


def run_run(args: argparse.Namespace) -> int:
    """The `run` command."""
    try:
        outcome = run_in_repository(
            Path(args.repo_dir),
            base=args.base,
            branch=args.branch,
            dry_run=args.dry_run,
        )
    except (GitError, RepoConfigError) as error:
        print_error(str(error))
        return EXIT_ERROR
    if args.json:
        print(json.dumps(outcome.to_json(), indent=2))
    else:
        _print_run(outcome, dry_run=args.dry_run)
    return EXIT_OK


def _print_run(outcome: LocalRun, *, dry_run: bool) -> None:
    result = outcome.result
    reason = result.nothing_to_do()
    if reason:
        print(f"nothing to do: {reason}")
        return
    if dry_run:
        color = should_color("auto", sys.stdout, os.environ)
        for report in result.changed:
            old, new = report.source, report.new_source
            sys.stdout.write(unified_diff(report.path, old, new, color=color))
        print()
    else:
        count = len(result.changed)
        print(
            f"committed {count} file{'s' if count != 1 else ''} to branch "
            f"{outcome.branch} ({outcome.commit}), based on {outcome.base}",
            file=sys.stderr,
        )
    print(result.title, result.body, sep="\n\n", end="")


def run_scan(args: argparse.Namespace) -> int:
    """The `scan` command."""
    root = Path(args.repo_dir)
    if not root.is_dir():
        print_error(f"not a folder: {root}")
        return EXIT_ERROR
    try:
        config = load_repo_config(root)
    except RepoConfigError as error:
        print_error(str(error))
        return EXIT_ERROR
    scan = locate(root, include=config.paths, exclude=config.exclude)
    if args.json:
        print(json.dumps(scan.to_json(), indent=2))
    else:
        _print_scan(scan)
    return EXIT_OK


def _print_scan(scan: Scan) -> None:
    print(f"{'score':>5}  {'role':<6}  path")
    for candidate in scan.candidates:
        print(f"{candidate.score:>5}  {candidate.role:<6}  {candidate.path}")
        if candidate.links:
            print(f"{'':15}links: {', '.join(candidate.links)}")
        for reason in candidate.reasons:
            print(f"{'':15}- {reason}")
    print(
        f"{len(scan.candidates)} candidates, {len(scan.excluded)} files excluded "
        f"(--json lists them); {scan.files_seen} files seen, "
        f"{scan.files_parsed} parsed"
    )
