"""The wandb-inject command: add W&B tracking to scripts, or run the job on a repo."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.console import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_WOULD_CHANGE,
    PROG,
    Parser,
    print_error,
)
from bot.diffs import should_color, unified_diff
from bot.files import (
    UnreadableError,
    find_python_files,
    project_name_for,
    project_name_problem,
    read_script,
    write_atomically,
)
from bot.repo_commands import add_run_command, add_scan_command
from bot.scan_cli import add_scan_org_command
from bot.serve import add_serve_command, add_worker_command
from injector import DEFAULT_LOG_EVERY, FileReport, InjectOptions, Status, inject_source


@dataclasses.dataclass
class Script:
    """One file's report, plus the error that kept it from being read or written."""

    report: FileReport
    error: str | None = None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        # --help and usage errors: return the code instead of exiting.
        code = exit_request.code
        return code if isinstance(code, int) else EXIT_ERROR
    try:
        exit_code: int = args.handler(args)
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG, description="Add Weights & Biases tracking to training scripts."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_inject_command(commands)
    add_run_command(commands)
    add_scan_command(commands)
    add_scan_org_command(commands)
    add_serve_command(commands)
    add_worker_command(commands)
    return parser


def _add_inject_command(commands: argparse._SubParsersAction[Parser]) -> None:
    inject = commands.add_parser(
        "inject",
        help="rewrite scripts to log to W&B (shows a diff unless --write)",
        description="Show, write or check the W&B tracking added to each script.",
    )
    inject.add_argument(
        "paths", nargs="+", metavar="PATH", help="a script, or a folder to search"
    )
    mode = inject.add_mutually_exclusive_group()
    mode.add_argument(
        "--write", action="store_true", help="rewrite changed files in place"
    )
    mode.add_argument(
        "--check", action="store_true", help="exit 1 if any file would change"
    )
    inject.add_argument(
        "--json", action="store_true", help="print one JSON report per file"
    )
    inject.add_argument(
        "--project",
        type=_project_name,
        help="W&B project (default: the git repository's or the folder's name)",
    )
    inject.add_argument(
        "--log-every",
        type=_positive_int,
        default=DEFAULT_LOG_EVERY,
        metavar="N",
        help=f"log training metrics every N steps (default: {DEFAULT_LOG_EVERY})",
    )
    inject.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="color the diff (default: auto, on a terminal without NO_COLOR)",
    )
    inject.set_defaults(handler=run_inject)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return value


def _project_name(text: str) -> str:
    name = text.strip()
    problem = project_name_problem(name)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return name


def run_inject(args: argparse.Namespace) -> int:
    """The `inject` command: read every script, inject, then write or report."""
    scripts = [_inject(found, args) for found in _unique_scripts(args.paths)]
    if args.write:
        scripts = [_write(script) for script in scripts]
    _print_results(scripts, args)
    _print_notes(scripts, show_statuses=not args.json)
    if any(script.error for script in scripts):
        return EXIT_ERROR
    if args.check and any(script.report.changed for script in scripts):
        return EXIT_WOULD_CHANGE
    return EXIT_OK


def _unique_scripts(paths: Sequence[str]) -> Iterator[Path | UnreadableError]:
    # A file named twice, or inside two named folders, is handled once.
    seen: set[Path] = set()
    for path in paths:
        for found in find_python_files(Path(path)):
            if isinstance(found, UnreadableError):
                yield found
                continue
            absolute = Path(os.path.abspath(found))
            if absolute not in seen:
                seen.add(absolute)
                yield found


def _inject(found: Path | UnreadableError, args: argparse.Namespace) -> Script:
    if isinstance(found, UnreadableError):
        return _unreadable(found)
    try:
        source = read_script(found)
    except UnreadableError as error:
        return _unreadable(error)
    project = args.project or project_name_for(found)
    options = InjectOptions(project=project, log_every=args.log_every)
    return Script(inject_source(source, options, path=str(found)))


def _write(script: Script) -> Script:
    report = script.report
    if not report.changed:
        return script
    try:
        write_atomically(Path(report.path), report.new_source)
    except OSError as error:
        reason = error.strerror or str(error)
        message = f"cannot write {report.path}: {reason}"
        return _failed(report.path, f"cannot write: {reason}", message, report.source)
    return script


def _unreadable(error: UnreadableError) -> Script:
    return _failed(str(error.path), f"cannot read: {error.reason}", str(error))


def _failed(path: str, reason: str, error: str, source: bytes = b"") -> Script:
    report = FileReport(path, Status.FAILED, source, source, reason=reason)
    return Script(report, error)


def _print_results(scripts: list[Script], args: argparse.Namespace) -> None:
    changed = [script.report for script in scripts if script.report.changed]
    if args.json:
        reports = [script.report.to_json() for script in scripts]
        print(json.dumps(reports, indent=2))
    elif args.check:
        for report in changed:
            print(f"would change: {report.path}")
    elif args.write:
        for report in changed:
            print(f"wrote {report.path}")
    else:
        color = should_color(args.color, sys.stdout, os.environ)
        for report in changed:
            old, new = report.source, report.new_source
            sys.stdout.write(unified_diff(report.path, old, new, color=color))
    sys.stdout.flush()


def _print_notes(scripts: list[Script], *, show_statuses: bool) -> None:
    """Errors always; skipped and failed files only when JSON does not carry them."""
    for script in scripts:
        report = script.report
        if script.error:
            print_error(script.error)
        elif show_statuses and report.status in (Status.SKIPPED, Status.FAILED):
            note = f"{report.path}: {report.status}: {_first_line(report.reason)}"
            print(note, file=sys.stderr)


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return "no reason given"
    more = " (more with --json)" if len(lines) > 1 else ""
    return lines[0].strip() + more


if __name__ == "__main__":
    raise SystemExit(main())
