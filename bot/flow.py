"""What the queue runs for each request: acknowledge it, then do the job on GitHub."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple
from urllib.parse import quote

from bot.github import (
    GitHubError,
    PullRequestInfo,
    Repository,
    RepositoryApi,
    Transient,
)
from bot.github_errors import DEFAULT_RETRY_AFTER
from bot.job import JobResult, Overrides, run_job, write_changes
from bot.metrics import Metrics
from bot.pr_body import (
    MARKER,
    MAX_BODY_LENGTH,
    RECREATE_COMMAND,
    LineUrl,
    left_alone_lines,
    with_note,
)
from bot.repo_config import RepoConfigError
from bot.request import Request, Trigger
from bot.settings import Settings
from bot.webhooks import COMMAND, LABEL
from bot.workspace import BranchTaken, Remote, Workspace, cloned
from bot.worktree import GitError, Identity

__all__ = ["JobOutcome", "Transient", "acknowledge", "give_up", "process"]

logger = logging.getLogger(__name__)

BRANCH_PREFIX = "wandb-inject/"
# The status comment lists at most this many files left alone.
MAX_STATUS_LINES = 20
# What a status comment adds around a pull request body it quotes.
STATUS_ROOM = 1_000

QUEUED = "**Queued.** @{user} asked for W&B tracking; I will start shortly."
WORKING = "**Working.** Looking for training scripts on `{base}`."
NOT_UNDERSTOOD = "**Not understood:** {problem}"
REFUSED = (
    "**Refused.** Sorry @{user}, only people with write access to this "
    "repository can ask me for a pull request. A maintainer can ask instead."
)
NOTHING_TO_DO = "**Nothing to do:** {reason}."
NOT_WANTED = (
    "**Not wanted:** a previous pull request from `{branch}` (#{number}) was "
    "closed without merging, so I opened no other. Comment `{recreate}` to get "
    "a new one."
)
BAD_SETTINGS = "**Stopped:** the settings file has problems:\n\n{problems}"
BRANCH_TAKEN = (
    "**Stopped:** {reason}. I never overwrite other people's commits: merge or "
    "delete `{branch}`, then ask again."
)
DRY_RUN = (
    "**Dry run:** nothing was pushed. The pull request into `{base}` would read:"
    "\n\n<details><summary>{title}</summary>\n\n{body}\n</details>"
)
OPENED = "**PR opened:** #{number} ({url})"
UPDATED = "**PR updated:** #{number} ({url})"
FAILED = "**Failed:** {reason}."
GAVE_UP = (
    "**Failed:** {reason}, on each of {attempts} attempts. Comment `{command}` "
    "to try again."
)
RETRYING = "**Retrying:** {reason}; I will try again in about {minutes} min."
REQUESTED_IN = "Requested in #{number} by @{user}."
UNEXPECTED = "an unexpected error ({kind}); the app's logs have the details"


class JobOutcome(StrEnum):
    """How a job ended, as the metrics count it; one per status it leaves."""

    NOT_UNDERSTOOD = "not_understood"
    REFUSED = "refused"
    NOTHING_TO_DO = "nothing_to_do"
    NOT_WANTED = "not_wanted"
    STOPPED = "stopped"
    DRY_RUN = "dry_run"
    PR_OPENED = "pr_opened"
    PR_UPDATED = "pr_updated"


class Outcome(NamedTuple):
    kind: JobOutcome
    status: str


def acknowledge(
    request: Request, settings: Settings, metrics: Metrics | None = None
) -> None:
    """React to the request, drop the trigger label, and post the status comment."""
    api = _api(request, settings, metrics)
    if request.comment_id is not None:
        api.react_to_comment(request.comment_id)
    else:
        api.react_to_issue(request.number)
    if request.trigger is Trigger.ISSUE_LABEL:
        api.remove_label(request.number, LABEL)
    StatusComment(api, request).show(QUEUED.format(user=request.requested_by))
    logger.info("request acknowledged", extra=request.log_context())


def process(
    request: Request, settings: Settings, metrics: Metrics | None = None
) -> JobOutcome:
    """Do the job, leave its outcome on the status comment and return it.

    Transient failures are re-raised for the queue to retry; any other
    failure is reported as `failed` and re-raised. The queue logs both.
    """
    api = _api(request, settings, metrics)
    status = StatusComment(api, request)
    try:
        outcome = _outcome(request, settings, api, status)
    except Transient as error:
        wait = error.retry_after or DEFAULT_RETRY_AFTER
        minutes = max(1, round(wait / 60))
        status.show(RETRYING.format(reason=error.reason, minutes=minutes))
        raise
    except Exception as error:
        status.show(FAILED.format(reason=_reason(error)))
        raise
    status.show(outcome.status)
    if metrics is not None and outcome.kind is JobOutcome.PR_OPENED:
        metrics.pull_request_opened(str(request.trigger))
    return outcome.kind


def give_up(
    request: Request,
    settings: Settings,
    reason: str,
    attempts: int,
    metrics: Metrics | None = None,
) -> None:
    """Leave a failure that outlasted the queue's retries on the status comment."""
    status = StatusComment(_api(request, settings, metrics), request)
    status.show(GAVE_UP.format(reason=reason, attempts=attempts, command=COMMAND))


def status_marker(delivery_id: str) -> str:
    """The hidden line that ties a status comment to the delivery it answers."""
    return f"<!-- wandb-inject status {delivery_id} -->"


class StatusComment:
    """The one comment that tells the requester how their request is going."""

    def __init__(self, api: RepositoryApi, request: Request) -> None:
        self._api = api
        self._number = request.number
        self._marker = status_marker(request.delivery_id)
        self._comment_id: int | None = None

    def show(self, text: str) -> None:
        body = f"{self._marker}\n{text}"
        # A retried acknowledgement or job finds the comment its first try made.
        if self._comment_id is None:
            self._comment_id = self._api.find_bot_comment(self._number, self._marker)
        if self._comment_id is None:
            self._comment_id = self._api.create_comment(self._number, body)
        else:
            self._api.update_comment(self._comment_id, body)


@dataclass(frozen=True)
class Target:
    """The branch the change starts from, and the pull request that asked for it."""

    base: str
    on_bot_pull_request: bool = False

    @property
    def branch(self) -> str:
        return BRANCH_PREFIX + self.base


def _outcome(
    request: Request, settings: Settings, api: RepositoryApi, status: StatusComment
) -> Outcome:
    if request.problem:
        problem = NOT_UNDERSTOOD.format(problem=request.problem)
        return Outcome(JobOutcome.NOT_UNDERSTOOD, problem)
    if not api.can_write(request.requested_by):
        return Outcome(JobOutcome.REFUSED, REFUSED.format(user=request.requested_by))
    repository = api.repository()
    if repository.archived:
        archived = NOTHING_TO_DO.format(reason="the repository is archived")
        return Outcome(JobOutcome.NOTHING_TO_DO, archived)
    target = _target(request, api, repository)
    if isinstance(target, str):
        return Outcome(JobOutcome.NOTHING_TO_DO, NOTHING_TO_DO.format(reason=target))
    open_pull, declined = bot_pull_history(api, target.branch)
    if declined is not None and not request.arguments.recreate:
        not_wanted = NOT_WANTED.format(
            branch=target.branch, number=declined.number, recreate=RECREATE_COMMAND
        )
        return Outcome(JobOutcome.NOT_WANTED, not_wanted)
    status.show(WORKING.format(base=target.base))
    return _change(request, settings, api, repository, target, open_pull)


def _target(
    request: Request, api: RepositoryApi, repository: Repository
) -> Target | str:
    """Where to start from, or why not to start at all."""
    if request.trigger is not Trigger.PR_COMMENT:
        return Target(repository.default_branch)
    pull = api.pull_request(request.number)
    # `/wandb-inject recreate` on the bot's own pull request rebuilds it.
    if pull.head_ref.startswith(BRANCH_PREFIX) and pull.body.startswith(MARKER):
        return Target(pull.base_ref, on_bot_pull_request=True)
    if pull.head_elsewhere:
        return "the pull request's branch is in a fork, where the app cannot push"
    if not pull.open:
        return "the pull request is closed"
    return Target(pull.head_ref)


def _change(
    request: Request,
    settings: Settings,
    api: RepositoryApi,
    repository: Repository,
    target: Target,
    open_pull: PullRequestInfo | None,
) -> Outcome:
    remote = Remote(repository.clone_url, api.git_token())
    with cloned(remote, target.base) as workspace:
        try:
            result = run_job(
                workspace.tree,
                fallback_project=request.repo,
                line_url=line_links(repository.html_url, target.branch),
                overrides=Overrides(request.arguments.project, request.arguments.paths),
            )
        except RepoConfigError as error:
            problems = "\n".join(f"- {problem}" for problem in error.problems)
            return Outcome(JobOutcome.STOPPED, BAD_SETTINGS.format(problems=problems))
        reason = result.nothing_to_do()
        if reason is not None:
            return Outcome(JobOutcome.NOTHING_TO_DO, _nothing_to_do(reason, result))
        if request.arguments.dry_run:
            return Outcome(JobOutcome.DRY_RUN, _dry_run(target, result))
        try:
            push_changes(workspace, result, target.branch, api)
        except BranchTaken as error:
            taken = BRANCH_TAKEN.format(reason=error, branch=target.branch)
            return Outcome(JobOutcome.STOPPED, taken)
    body = _with_request_note(result.body, request, target)
    if open_pull is not None:
        pull = api.update_pull_request(open_pull.number, title=result.title, body=body)
        updated = UPDATED.format(number=pull.number, url=pull.html_url)
        return Outcome(JobOutcome.PR_UPDATED, updated)
    pull = api.create_pull_request(
        title=result.title, body=body, head=target.branch, base=target.base
    )
    opened = OPENED.format(number=pull.number, url=pull.html_url)
    return Outcome(JobOutcome.PR_OPENED, opened)


def _nothing_to_do(reason: str, result: JobResult) -> str:
    excluded = result.scan.excluded if result.scan else []
    lines = list(left_alone_lines(result.reports, excluded))
    if len(lines) > MAX_STATUS_LINES:
        more = len(lines) - MAX_STATUS_LINES
        lines = [*lines[:MAX_STATUS_LINES], f"- and {more} more"]
    summary = NOTHING_TO_DO.format(reason=reason)
    return "\n\n".join([summary, "\n".join(lines)]) if lines else summary


def _dry_run(target: Target, result: JobResult) -> str:
    body = result.body
    # The status comment has GitHub's length limit too, and wraps the body.
    room = MAX_BODY_LENGTH - STATUS_ROOM
    if len(body) > room:
        body = body[:room] + "\n\n(Cut short.)"
    return DRY_RUN.format(base=target.base, title=result.title, body=body)


def _with_request_note(body: str, request: Request, target: Target) -> str:
    """The body, linking the issue or pull request the request came from.

    It mentions the issue without closing it: the pull request may be declined.
    """
    if target.on_bot_pull_request:
        return body
    note = REQUESTED_IN.format(number=request.number, user=request.requested_by)
    return with_note(body, note)


def bot_pull_history(
    api: RepositoryApi, branch: str
) -> tuple[PullRequestInfo | None, PullRequestInfo | None]:
    """The app's open pull request from `branch`, and, when none is open, the
    latest one closed without merging: a person declined the change."""
    earlier = api.bot_pull_requests(branch)
    open_pull = next((pull for pull in earlier if pull.open), None)
    if open_pull is None and earlier and not earlier[0].merged:
        return None, earlier[0]
    return open_pull, None


def push_changes(
    workspace: Workspace, result: JobResult, branch: str, api: RepositoryApi
) -> None:
    """Write the rewritten files, commit them as the app's bot and push `branch`."""
    paths = write_changes(workspace.tree, result.reports)
    workspace.push(branch, paths, result.commit_message(paths), commit_identity(api))


def installation_api(
    settings: Settings,
    installation_id: int,
    owner: str,
    repo: str,
    metrics: Metrics | None = None,
) -> RepositoryApi:
    """The GitHub calls on one repository, as the app's installation there."""
    return RepositoryApi(
        app_id=settings.app_id,
        private_key=settings.private_key,
        api_url=settings.github_api_url,
        installation_id=installation_id,
        owner=owner,
        repo=repo,
        on_rate_limit=metrics.rate_limit if metrics else None,
    )


def line_links(html_url: str, branch: str) -> LineUrl:
    """Links to lines of files on `branch`, for the pull request's text."""

    def line_url(path: str, line: int) -> str:
        # A name that is not UTF-8 is quoted as the bytes it is on disk.
        raw = path.encode(errors="surrogateescape")
        return f"{html_url}/blob/{quote(branch)}/{quote(raw)}#L{line}"

    return line_url


def commit_identity(api: RepositoryApi) -> Identity:
    """The app's bot account, as the author of the commits it pushes."""
    login, user_id = api.bot_account()
    # The address GitHub ties commits to the app's bot account by.
    return Identity(login, f"{user_id}+{login}@users.noreply.github.com")


def _api(
    request: Request, settings: Settings, metrics: Metrics | None
) -> RepositoryApi:
    return installation_api(
        settings, request.installation_id, request.owner, request.repo, metrics
    )


def _reason(error: Exception) -> str:
    """A failure's reason fit for a public comment: ours verbatim, others by kind."""
    # Our own errors carry one line written for people; others may hold anything.
    if isinstance(error, GitError | GitHubError):
        return str(error)
    return UNEXPECTED.format(kind=type(error).__name__)
