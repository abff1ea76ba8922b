"""An organisation scan run here, repository by repository, and its summary."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from bot.console import EXIT_ERROR, EXIT_OK, print_error
from bot.github import GitHubError, Transient
from bot.limits import Limits, open_limits
from bot.org import Account, AppApi
from bot.queue import flow_handlers, open_queue
from bot.scan import Deferred, Outcome, RepoScan, Status, listed_skip, scan_repository
from bot.settings import Settings

BAR_WIDTH = 30


def scan_org(settings: Settings, args: argparse.Namespace) -> int:
    """Scan the chosen installations here, or queue them with --queue."""
    api = AppApi(settings)
    try:
        accounts = [each for each in api.accounts() if _chosen(args.target, each)]
        if not accounts:
            print_error(f"the app is not installed on {args.target!r}")
            return EXIT_ERROR
        if args.queue:
            chosen = [each.installation_id for each in accounts]
            return _queue(settings, chosen, args.dry_run)
        outcomes = _scan(settings, api, accounts, args)
    except (GitHubError, Transient) as error:
        print_error(str(error))
        return EXIT_ERROR
    if args.json:
        print(json.dumps(_summary_json(outcomes), indent=2))
    else:
        print_summary(outcomes, sys.stdout)
    return EXIT_OK


def _chosen(target: str | None, account: Account) -> bool:
    if target is None:
        return True
    if target.isdigit():
        return account.installation_id == int(target)
    return account.login.lower() == target.lower()


def _queue(settings: Settings, installation_ids: list[int], dry_run: bool) -> int:
    queue = open_queue(settings, flow_handlers(settings))
    assert queue.scans is not None
    scan_id = queue.scans.start(installation_ids, dry_run=dry_run)
    print(f"queued {scan_id}: {len(installation_ids)} installation(s)")
    return EXIT_OK


def _scan(
    settings: Settings, api: AppApi, accounts: list[Account], args: argparse.Namespace
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    jobs: list[RepoScan] = []
    for account in accounts:
        for listed in api.repositories(account.installation_id):
            reason = listed_skip(listed)
            if reason:
                outcomes.append(Outcome(listed.full_name, Status.SKIPPED, reason))
                continue
            job = RepoScan(
                account.installation_id, listed.owner, listed.name, "scan-org"
            )
            jobs.append(RepoScan(**{**job.to_json(), "dry_run": args.dry_run}))
    # A dry run writes nothing: it never opens the counters' file either.
    limits = None if args.dry_run else open_limits(settings)
    progress = Progress(len(jobs), sys.stderr)

    def one(job: RepoScan) -> Outcome:
        outcome = _scan_one(job, settings, limits)
        progress.step(job.full_name)
        return outcome

    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes.extend(pool.map(one, jobs))
    progress.done()
    return sorted(outcomes, key=lambda outcome: outcome.full_name)


def _scan_one(job: RepoScan, settings: Settings, limits: Limits | None) -> Outcome:
    try:
        return scan_repository(job, settings, limits)
    except Deferred as error:
        minutes = max(1, round(error.delay / 60))
        reason = f"{error.reason}; retry in {minutes} min"
        return Outcome(job.full_name, Status.SKIPPED, reason)
    except Transient as error:
        return Outcome(job.full_name, Status.FAILED, error.reason)


class Progress:
    """A one-line bar on a terminal; nothing elsewhere."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream, self.count = total, stream, 0
        self.shown = stream.isatty() and total > 0
        # Steps come from the scanning threads.
        self._lock = threading.Lock()

    def step(self, name: str) -> None:
        with self._lock:
            self.count += 1
            if not self.shown:
                return
            filled = BAR_WIDTH * self.count // self.total
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stream.write(f"\r\x1b[K[{bar}] {self.count}/{self.total} {name}")
            self.stream.flush()

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def summarise(outcomes: list[Outcome]) -> dict[str, object]:
    """The counts the summary shows, skip reasons included."""
    statuses = Counter(outcome.status for outcome in outcomes)
    reasons = Counter(o.reason for o in outcomes if o.status is Status.SKIPPED)
    return {
        "repositories": len(outcomes),
        "scripts_found": sum(outcome.scripts for outcome in outcomes),
        "already_tracked": sum(outcome.tracked for outcome in outcomes),
        **{str(status): statuses[status] for status in Status},
        "skipped_because": dict(sorted(reasons.items())),
    }


def _summary_json(outcomes: list[Outcome]) -> dict[str, object]:
    return {
        "summary": summarise(outcomes),
        "repositories": [outcome.to_json() for outcome in outcomes],
    }


def print_summary(outcomes: list[Outcome], stream: TextIO) -> None:
    """One line per repository, then the totals."""
    width = max((len(outcome.full_name) for outcome in outcomes), default=10)
    for outcome in outcomes:
        status = str(outcome.status)
        stream.write(f"{outcome.full_name:<{width}}  {status:<13}  {outcome.reason}\n")
    summary = summarise(outcomes)
    rows = [
        ("repositories scanned", summary["repositories"]),
        ("scripts found", summary["scripts_found"]),
        ("already tracked", summary["already_tracked"]),
        *((f"pull requests {s}", summary[str(s)]) for s in _PULL_STATUSES),
        ("dashboard issues", summary[str(Status.LISTED)]),
        ("nothing to do", summary[str(Status.NOTHING)]),
        ("failed", summary[str(Status.FAILED)]),
        ("skipped", summary[str(Status.SKIPPED)]),
    ]
    stream.write("\n")
    for label, value in rows:
        stream.write(f"{label:<28}{value:>6}\n")
    skipped = summary["skipped_because"]
    assert isinstance(skipped, dict)
    for reason, count in skipped.items():
        stream.write(f"{count:>6}  {reason}\n")


_PULL_STATUSES = (Status.OPENED, Status.UPDATED, Status.PROPOSED)
