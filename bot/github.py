"""The GitHub calls the job makes, over githubkit."""

from __future__ import annotations

import dataclasses
import functools
import logging
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from githubkit import AppAuthStrategy, GitHub
from githubkit_schemas.latest.models import (
    IssueComment,
    PullRequest,
    PullRequestSimple,
)

from bot.github_errors import (
    GitHubError,
    NotFound,
    Transient,
    errors_mapped,
)
from bot.pr_body import MARKER

__all__ = [
    "GitHubError",
    "NotFound",
    "PullRequestInfo",
    "Repository",
    "RepositoryApi",
    "Transient",
    "app_client",
    "errors_mapped",
    "read_bot_login",
    "tls_context",
]

logger = logging.getLogger(__name__)

# Roles that may push to the repository; `triage` and `read` may not.
WRITE_ROLES = frozenset({"admin", "maintain", "write"})
# GitHub ends a request itself after 10 s (answering 502); a call that hears
# nothing for this long is given up, and the job retried, instead of hanging.
TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Repository:
    default_branch: str
    archived: bool
    fork: bool
    clone_url: str
    html_url: str
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class PullRequestInfo:
    number: int
    html_url: str
    open: bool
    merged: bool
    head_ref: str
    base_ref: str
    # The head branch lives in another repository (a fork), or one since deleted.
    head_elsewhere: bool
    body: str


def app_client(auth: AppAuthStrategy, api_url: str) -> GitHub[Any]:
    """A client authenticated as the app, as every job and scan needs it."""
    # Retries are the queue's job: githubkit would otherwise sleep in the
    # worker. Its HTTP cache (hishel) drops the timeout from each request,
    # so a stalled GitHub would hang the job, and it keeps every answer for
    # the life of the process, so a worker would grow by each job: no cache.
    return GitHub(
        auth,
        base_url=api_url,
        auto_retry=False,
        http_cache=False,
        timeout=httpx.Timeout(TIMEOUT_SECONDS),
        ssl_verify=tls_context(),
    )


def read_bot_login(app: GitHub[Any]) -> str:
    """The login of the app's bot user, `slug[bot]`, from GET /app."""
    with errors_mapped("reading the app"):
        found = app.rest.apps.get_authenticated().parsed_data
    if found is None or not isinstance(found.slug, str):
        raise GitHubError("GitHub did not name the app (GET /app)")
    return f"{found.slug}[bot]"


class RepositoryApi:
    """One repository, as one installation of the app sees it."""

    def __init__(
        self,
        *,
        app_id: int,
        private_key: str,
        api_url: str,
        installation_id: int,
        owner: str,
        repo: str,
        on_rate_limit: Callable[[int, int], None] | None = None,
    ) -> None:
        """`on_rate_limit(installation, remaining)` hears of each API answer's
        limit, made with the installation's token (the app's own has another)."""
        app_auth = AppAuthStrategy(app_id, private_key)
        self._app = app_client(app_auth, api_url)
        config = self._app.config
        if on_rate_limit is not None:
            hooks = {"response": [_rate_limit_hook(installation_id, on_rate_limit)]}
            config = dataclasses.replace(config, event_hooks=hooks)
        self._github = GitHub(app_auth.as_installation(installation_id), config=config)
        self._installation_id = installation_id
        self._app_login: str | None = None
        self.owner = owner
        self.repo = repo

    def repository(self) -> Repository:
        with errors_mapped("reading the repository"):
            data = self._github.rest.repos.get(self.owner, self.repo).parsed_data
        return Repository(
            default_branch=data.default_branch,
            archived=data.archived,
            fork=data.fork,
            clone_url=data.clone_url,
            html_url=data.html_url,
            topics=tuple(data.topics) if isinstance(data.topics, list) else (),
        )

    def can_write(self, user: str) -> bool:
        """Whether `user` may push to the repository, by their collaborator role."""
        try:
            with errors_mapped(f"checking the permission of @{user}"):
                response = self._github.rest.repos.get_collaborator_permission_level(
                    self.owner, self.repo, user
                )
        except NotFound:
            return False
        access = response.parsed_data
        return access.role_name in WRITE_ROLES or access.permission in WRITE_ROLES

    def react_to_comment(self, comment_id: int) -> None:
        with errors_mapped("reacting to the comment"):
            self._github.rest.reactions.create_for_issue_comment(
                self.owner, self.repo, comment_id, content="eyes"
            )

    def react_to_issue(self, number: int) -> None:
        with errors_mapped("reacting to the issue"):
            self._github.rest.reactions.create_for_issue(
                self.owner, self.repo, number, content="eyes"
            )

    def remove_label(self, number: int, label: str) -> None:
        """Remove `label` from the issue; one already gone is fine."""
        try:
            with errors_mapped(f"removing the label {label!r}"):
                self._github.rest.issues.remove_label(
                    self.owner, self.repo, number, label
                )
        except NotFound:
            logger.info("label already gone", extra={"repo": self.full_name})

    def find_bot_comment(self, number: int, marker: str) -> int | None:
        """The id of this app's comment on the issue that holds `marker`, if any.

        Another app could copy the marker into a comment of its own: only the
        comment by this app's bot account counts.
        """
        login = self.app_login()
        with errors_mapped("reading the comments"):
            comments: Iterable[IssueComment] = self._github.rest.paginate(
                self._github.rest.issues.list_comments,
                owner=self.owner,
                repo=self.repo,
                issue_number=number,
                per_page=100,
            )
            for comment in comments:
                by_us = comment.user is not None and comment.user.login == login
                if by_us and marker in (comment.body or ""):
                    return comment.id
        return None

    def create_comment(self, number: int, body: str) -> int:
        with errors_mapped("commenting"):
            response = self._github.rest.issues.create_comment(
                self.owner, self.repo, number, body=body
            )
        return response.parsed_data.id

    def update_comment(self, comment_id: int, body: str) -> None:
        with errors_mapped("updating the status comment"):
            self._github.rest.issues.update_comment(
                self.owner, self.repo, comment_id, body=body
            )

    def pull_request(self, number: int) -> PullRequestInfo:
        with errors_mapped(f"reading pull request #{number}"):
            data = self._github.rest.pulls.get(self.owner, self.repo, number)
        return self._pull_request_info(data.parsed_data)

    def bot_pull_requests(self, branch: str) -> list[PullRequestInfo]:
        """The app's pull requests from `branch`, open and closed, newest first."""
        with errors_mapped("looking for earlier pull requests"):
            found: Iterable[PullRequestSimple] = self._github.rest.paginate(
                self._github.rest.pulls.list,
                owner=self.owner,
                repo=self.repo,
                state="all",
                head=f"{self.owner}:{branch}",
                sort="created",
                direction="desc",
                per_page=100,
            )
            # The marker tells the app's pull requests from a person's on the branch.
            return [
                self._pull_request_info(pull)
                for pull in found
                if pull.head.ref == branch and (pull.body or "").startswith(MARKER)
            ]

    def create_pull_request(
        self, *, title: str, body: str, head: str, base: str
    ) -> PullRequestInfo:
        with errors_mapped("opening the pull request"):
            response = self._github.rest.pulls.create(
                self.owner, self.repo, title=title, body=body, head=head, base=base
            )
        return self._pull_request_info(response.parsed_data)

    def update_pull_request(
        self, number: int, *, title: str, body: str
    ) -> PullRequestInfo:
        with errors_mapped(f"updating pull request #{number}"):
            response = self._github.rest.pulls.update(
                self.owner, self.repo, number, title=title, body=body
            )
        return self._pull_request_info(response.parsed_data)

    def app_login(self) -> str:
        """The login of the app's bot user, `slug[bot]`, read once from GET /app."""
        if self._app_login is None:
            self._app_login = read_bot_login(self._app)
        return self._app_login

    def bot_account(self) -> tuple[str, int]:
        """The app's bot user, its login (`slug[bot]`) and id, for authorship."""
        login = self.app_login()
        with errors_mapped(f"reading the user {login}"):
            user = self._github.rest.users.get_by_username(login).parsed_data
        return login, user.id

    def git_token(self) -> str:
        """A new installation token for git, limited to this repository's contents."""
        with errors_mapped("getting a token for git"):
            response = self._app.rest.apps.create_installation_access_token(
                self._installation_id,
                repositories=[self.repo],
                permissions={"contents": "write"},
            )
        return response.parsed_data.token

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def _pull_request_info(
        self, data: PullRequest | PullRequestSimple
    ) -> PullRequestInfo:
        head_repo = data.head.repo
        head_elsewhere = head_repo is None or head_repo.full_name != self.full_name
        return PullRequestInfo(
            number=data.number,
            html_url=data.html_url,
            open=data.state == "open",
            merged=data.merged_at is not None,
            head_ref=data.head.ref,
            base_ref=data.base.ref,
            head_elsewhere=head_elsewhere,
            body=data.body or "",
        )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client, as httpx would build it.

    githubkit builds a client per call, and each new context reads the CA
    bundle again: about a quarter of a second.
    """
    return httpx.create_ssl_context()


def _rate_limit_hook(
    installation_id: int, report: Callable[[int, int], None]
) -> Callable[[httpx.Response], None]:
    def hook(response: httpx.Response) -> None:
        # Getting the token goes through here too, under the app's own limit.
        scheme = response.request.headers.get("authorization", "").partition(" ")[0]
        remaining = response.headers.get("x-ratelimit-remaining", "")
        if scheme.lower() == "token" and remaining.isdigit():
            report(installation_id, int(remaining))

    return hook
