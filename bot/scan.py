"""One repository's part of an organisation scan: skip rules, candidates, the change."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from bot.candidates import find_candidates
from bot.flow import (
    Target,
    bot_pull_history,
    installation_api,
    line_links,
    push_changes,
)
from bot.github import GitHubError, PullRequestInfo, Repository
from bot.job import JobResult, run_job
from bot.limits import Limits, Refused
from bot.org import AppApi, Listed, Listing
from bot.pr_body import with_note
from bot.repo_config import CONFIG_PATH, RepoConfig, RepoConfigError, parse_repo_config
from bot.scan_dashboard import CONTENT_LIMIT, Paced, show_dashboard
from bot.settings import Settings
from bot.workspace import BranchTaken, Remote, cloned
from bot.worktree import GitError

logger = logging.getLogger(__name__)

# GitHub topics take only lowercase letters, digits and hyphens.
SKIP_TOPIC = "wandb-inject-skip"
SCAN_NOTE = (
    "Found by a scan of {owner}'s repositories. Close this pull request "
    "unmerged and no scan opens another."
)


class Status(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    # A dry run's verdict: a pull request would be opened or updated.
    PROPOSED = "would open"
    # Listed on the repository's dashboard issue, for people to choose from.
    LISTED = "listed"
    NOTHING = "nothing to do"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class RepoScan:
    """One repository to scan, as the queue carries it."""

    installation_id: int
    owner: str
    name: str
    scan_id: str
    dry_run: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def log_context(self) -> dict[str, Any]:
        return {
            "delivery": self.scan_id,
            "installation": self.installation_id,
            "repo": self.full_name,
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RepoScan:
        return cls(**data)


@dataclass(frozen=True)
class Outcome:
    """What the scan did in one repository, and why."""

    full_name: str
    status: Status
    reason: str = ""
    scripts: int = 0
    tracked: int = 0
    pull: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}


class Deferred(Exception):
    """A cap holds the pull request back for `delay` seconds: scan again then."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


def skip_reason(archived: bool, fork: bool, topics: tuple[str, ...]) -> str | None:
    """Why a repository is left out of scans by what its listing shows, if it is."""
    if archived:
        return "archived"
    # A fork's changes belong upstream, where people train from.
    if fork:
        return "a fork"
    if SKIP_TOPIC in topics:
        return f"opted out by the {SKIP_TOPIC} topic"
    return None


def listed_skip(listed: Listed) -> str | None:
    return skip_reason(listed.archived, listed.fork, listed.topics)


def scan_repository(
    job: RepoScan, settings: Settings, limits: Limits | None
) -> Outcome:
    """Scan one repository and, unless a dry run, open or update its pull request.

    Raises Transient when GitHub may recover and Deferred when a cap waits;
    other failures come back as a failed outcome. Only a dry run goes without
    `limits`.
    """
    assert limits is not None or job.dry_run
    try:
        return _Scan(job, settings, limits).run()
    except RepoConfigError as error:
        reason = f"the settings file has problems: {error}"
        return Outcome(job.full_name, Status.SKIPPED, reason)
    except (GitError, GitHubError) as error:
        logger.warning("repository scan failed", extra=job.log_context())
        return Outcome(job.full_name, Status.FAILED, str(error))


class _Scan:
    def __init__(
        self, job: RepoScan, settings: Settings, limits: Limits | None
    ) -> None:
        self.job, self.limits = job, limits
        self.app = AppApi(settings)
        self.dashboard = settings.scan_mode == "dashboard"
        self.api = installation_api(settings, job.installation_id, job.owner, job.name)

    def run(self) -> Outcome:
        repository = self.api.repository()
        skip = skip_reason(repository.archived, repository.fork, repository.topics)
        if skip:
            return self._outcome(Status.SKIPPED, skip)
        job = self.job
        branch = repository.default_branch
        listing = self.app.listing(job.installation_id, job.owner, job.name, branch)
        if listing is None:
            return self._outcome(Status.SKIPPED, "empty")
        config = self._config(listing)
        if not config.enabled:
            return self._outcome(Status.SKIPPED, f"enabled: false in {CONFIG_PATH}")
        candidates = find_candidates(listing.entries, config)
        if not candidates.scripts:
            reason = "no Python scripts outside tests, docs and vendored code"
            return self._outcome(Status.SKIPPED, reason)
        # A listing GitHub cut short may miss scripts: check out every one instead.
        patterns = None if listing.truncated else candidates.patterns()
        return self._change(repository, Target(repository.default_branch), patterns)

    def _config(self, listing: Listing) -> RepoConfig:
        entry = next((e for e in listing.entries if e.path == CONFIG_PATH), None)
        if entry is None or entry.kind != "blob":
            return RepoConfig()
        job = self.job
        data = self.app.file(job.installation_id, job.owner, job.name, entry.sha)
        return parse_repo_config(data)

    def _change(
        self, repository: Repository, target: Target, patterns: list[str] | None
    ) -> Outcome:
        open_pull, declined = bot_pull_history(self.api, target.branch)
        if self.limits is not None and not self.job.dry_run:
            self.limits.note_pull(
                self.job.installation_id, self.job.full_name, open_pull is not None
            )
        if declined is not None:
            reason = f"#{declined.number} was closed without merging"
            return self._outcome(Status.SKIPPED, reason)
        remote = Remote(repository.clone_url, self.api.git_token())
        with cloned(remote, target.base, patterns) as workspace:
            url = line_links(repository.html_url, target.branch)
            result = run_job(
                workspace.tree, fallback_project=self.job.name, line_url=url
            )
            counts = _counts(result)
            nothing = result.nothing_to_do()
            if nothing is not None:
                return self._outcome(Status.NOTHING, nothing, **counts)
            if self.job.dry_run:
                return self._outcome(Status.PROPOSED, self._proposal(result), **counts)
            if self.dashboard:
                return self._listed(result, counts)
            if open_pull is None:
                refused = self._reserve()
                if refused is not None:
                    return self._outcome(Status.SKIPPED, refused.reason, **counts)
            try:
                push_changes(workspace, result, target.branch, self.api)
            except BranchTaken as error:
                self._release(open_pull)
                return self._outcome(Status.SKIPPED, str(error), **counts)
            except BaseException:
                self._release(open_pull)
                raise
        return self._pull_request(result, target, open_pull, counts)

    def _pull_request(
        self,
        result: JobResult,
        target: Target,
        open_pull: PullRequestInfo | None,
        counts: dict[str, int],
    ) -> Outcome:
        body = with_note(result.body, SCAN_NOTE.format(owner=self.job.owner))
        if open_pull is not None:
            pull = self.api.update_pull_request(
                open_pull.number, title=result.title, body=body
            )
            return self._outcome(Status.UPDATED, pull.html_url, pull.number, **counts)
        try:
            pull = self.api.create_pull_request(
                title=result.title, body=body, head=target.branch, base=target.base
            )
        except BaseException:
            self._release(None)
            raise
        logger.info("scan opened a pull request", extra=self.job.log_context())
        return self._outcome(Status.OPENED, pull.html_url, pull.number, **counts)

    def _proposal(self, result: JobResult) -> str:
        if self.dashboard:
            return f"a dashboard issue listing {len(result.changed)} script(s)"
        return result.title

    def _listed(self, result: JobResult, counts: dict[str, int]) -> Outcome:
        assert self.limits is not None
        paths = [report.path for report in result.changed]
        job = self.job
        try:
            number = show_dashboard(
                self.app, job.installation_id, job.full_name, paths, self.limits
            )
        except Paced as error:
            raise Deferred(error.delay, str(error)) from error
        return self._outcome(Status.LISTED, f"#{number}", number, **counts)

    def _reserve(self) -> Refused | None:
        """Count the new pull request against the caps; Deferred when one waits."""
        job, limits = self.job, self.limits
        assert limits is not None
        refused = limits.reserve_pull(job.installation_id, job.full_name)
        if refused is None:
            wait = limits.take_content_slot()
            if wait <= 0:
                return None
            self._release(None)
            refused = Refused(CONTENT_LIMIT, wait)
        if refused.retry_after is not None:
            raise Deferred(refused.retry_after, refused.reason)
        return refused

    def _release(self, open_pull: PullRequestInfo | None) -> None:
        if open_pull is None and self.limits is not None:
            self.limits.release_pull(self.job.installation_id, self.job.full_name)

    def _outcome(
        self,
        status: Status,
        reason: str,
        pull: int | None = None,
        *,
        scripts: int = 0,
        tracked: int = 0,
    ) -> Outcome:
        return Outcome(self.job.full_name, status, reason, scripts, tracked, pull)


def _counts(result: JobResult) -> dict[str, int]:
    scripts = len(result.scan.candidates) if result.scan else 0
    tracked = sum(
        1
        for report in result.reports
        if not report.changed and b"wandb" in report.source
    )
    return {"scripts": scripts, "tracked": tracked}
