"""The app's view across installations: accounts, their repositories, file listings."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from githubkit import AppAuthStrategy, GitHub, Response
from githubkit.exception import RequestFailed
from githubkit_schemas.latest.models import (
    Installation,
    InstallationRepositoriesGetResponse200,
    Issue,
)
from githubkit_schemas.latest.models import (
    InstallationRepositoriesGetResponse200PropRepositoriesItems as Repository,
)

from bot.candidates import Entry
from bot.dashboard import is_dashboard
from bot.github import app_client, errors_mapped, read_bot_login
from bot.settings import Settings

EMPTY_REPOSITORY = 409


@dataclass(frozen=True)
class Account:
    installation_id: int
    login: str


@dataclass(frozen=True)
class Listed:
    """A repository as an installation's listing shows it."""

    owner: str
    name: str
    default_branch: str
    archived: bool
    fork: bool
    topics: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Listing:
    """A branch's files; `truncated` when GitHub cut the listing short."""

    entries: tuple[Entry, ...]
    truncated: bool


class AppApi:
    """Calls made as the app across its installations, each with its own token."""

    def __init__(self, settings: Settings) -> None:
        self._auth = AppAuthStrategy(settings.app_id, settings.private_key)
        self._app = app_client(self._auth, settings.github_api_url)
        self._login: str | None = None

    def accounts(self) -> list[Account]:
        with errors_mapped("listing the app's installations"):
            found: Iterable[Installation] = self._app.rest.paginate(
                self._app.rest.apps.list_installations, per_page=100
            )
            return [Account(each.id, _login(each)) for each in found]

    def repositories(self, installation_id: int) -> list[Listed]:
        client = self._installation(installation_id)
        with errors_mapped("listing the installation's repositories"):
            found: Iterable[Repository] = client.rest.paginate(
                client.rest.apps.list_repos_accessible_to_installation,
                map_func=_repositories,
                per_page=100,
            )
            return [_listed(each) for each in found]

    def listing(
        self, installation_id: int, owner: str, name: str, branch: str
    ) -> Listing | None:
        """Every file on `branch`, from one API call; None for an empty repository."""
        client = self._installation(installation_id)
        with errors_mapped("listing the repository's files"):
            try:
                tree = client.rest.git.get_tree(
                    owner, name, branch, recursive="1"
                ).parsed_data
            except RequestFailed as error:
                if error.response.status_code == EMPTY_REPOSITORY:
                    return None
                raise
        entries = tuple(
            Entry(item.path, item.mode, item.type, item.sha) for item in tree.tree
        )
        return Listing(entries, bool(tree.truncated))

    def file(self, installation_id: int, owner: str, name: str, sha: str) -> bytes:
        client = self._installation(installation_id)
        with errors_mapped("reading the settings file"):
            blob = client.rest.git.get_blob(owner, name, sha).parsed_data
        return base64.b64decode(blob.content)

    def dashboard(
        self, installation_id: int, owner: str, name: str
    ) -> tuple[int, str] | None:
        """The number and body of the app's open dashboard issue, if there is one."""
        client = self._installation(installation_id)
        with errors_mapped("looking for the dashboard issue"):
            found: Iterable[Issue] = client.rest.paginate(
                client.rest.issues.list_for_repo,
                owner=owner,
                repo=name,
                state="open",
                creator=self._bot_login(),
                per_page=100,
            )
            for issue in found:
                if issue.pull_request is None and is_dashboard(issue.body or ""):
                    return issue.number, issue.body or ""
        return None

    def create_issue(
        self, installation_id: int, owner: str, name: str, title: str, body: str
    ) -> int:
        client = self._installation(installation_id)
        with errors_mapped("opening the dashboard issue"):
            made = client.rest.issues.create(owner, name, title=title, body=body)
        return made.parsed_data.number

    def update_issue(
        self, installation_id: int, owner: str, name: str, number: int, body: str
    ) -> None:
        client = self._installation(installation_id)
        with errors_mapped("updating the dashboard issue"):
            client.rest.issues.update(owner, name, number, body=body)

    def _bot_login(self) -> str:
        if self._login is None:
            self._login = read_bot_login(self._app)
        return self._login

    def _installation(self, installation_id: int) -> GitHub[Any]:
        return self._app.with_auth(self._auth.as_installation(installation_id))


def _repositories(
    response: Response[InstallationRepositoriesGetResponse200],
) -> list[Repository]:
    return response.parsed_data.repositories


def _listed(data: Repository) -> Listed:
    topics = data.topics if isinstance(data.topics, list) else []
    owner, _, name = data.full_name.partition("/")
    return Listed(
        owner=owner,
        name=name,
        default_branch=data.default_branch,
        archived=data.archived,
        fork=data.fork,
        topics=tuple(topics),
    )


def _login(installation: Installation) -> str:
    account = installation.account
    login = getattr(account, "login", None) or getattr(account, "slug", None)
    return str(login or "")
