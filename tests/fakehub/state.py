"""The fake GitHub's world: app, installations, repos and their issues, in memory."""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fakehub import bare
from fakehub.keys import make_keys

TOKEN_LIFETIME = timedelta(hours=1)
# GitHub's manifest code works once, within the hour.
MANIFEST_CODE_LIFETIME = timedelta(hours=1)
# Apps registered through the manifest flow; far from the fixture's ids, and
# unique in the process, as githubkit caches tokens by app id.
REGISTERED_APP_IDS = itertools.count(900001)
# GitHub folds the finer roles into the three classic levels in `permission`.
CLASSIC_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
TOKEN_PERMISSIONS = {
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
}


@dataclass(frozen=True)
class App:
    """The GitHub App under test; its private key signs the JWTs GitHub checks."""

    id: int
    slug: str
    private_key: str
    public_key: str
    webhook_secret: str
    name: str = ""
    owner: str = "wandb"
    owner_type: str = "Organization"
    # What the manifest flow asked for; empty for the fixture's app.
    permissions: dict[str, str] = field(default_factory=lambda: dict(TOKEN_PERMISSIONS))
    events: list[str] = field(default_factory=list)
    hook_url: str = ""


@dataclass
class ManifestCode:
    """A code GitHub's manifest flow handed back, not yet exchanged."""

    app: App
    created_at: datetime
    # Handed out once, with the code's exchange; GitHub keeps no copy.
    client_secret: str = ""


@dataclass
class User:
    id: int
    login: str
    type: str = "User"


@dataclass
class Installation:
    id: int
    account: User
    # None: every repository of the account ("all"); else the chosen full names.
    repositories: set[str] | None = None

    def covers(self, full_name: str) -> bool:
        owner = full_name.split("/")[0]
        if self.repositories is None:
            return owner == self.account.login
        return full_name in self.repositories


@dataclass
class Token:
    value: str
    installation: Installation
    expires_at: datetime
    # Narrowed at issue time by `repositories`; None keeps the installation's.
    repositories: set[str] | None = None

    def covers(self, full_name: str) -> bool:
        if self.repositories is not None and full_name not in self.repositories:
            return False
        return self.installation.covers(full_name)


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"


@dataclass
class Reaction:
    id: int
    user: User
    content: str
    created_at: datetime


@dataclass
class Comment:
    id: int
    number: int
    user: User
    body: str
    created_at: datetime
    updated_at: datetime
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Pull:
    head: str
    base: str
    # The head commit when last seen; the branch itself wins while it exists.
    head_sha: str
    merged_at: datetime | None = None
    draft: bool = False

    @property
    def merged(self) -> bool:
        return self.merged_at is not None


@dataclass
class Issue:
    """An issue, or a pull request when `pull` is set: they share numbers."""

    id: int
    number: int
    title: str
    body: str | None
    user: User
    created_at: datetime
    state: str = "open"
    closed_at: datetime | None = None
    labels: list[Label] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    pull: Pull | None = None


@dataclass
class Repo:
    id: int
    owner: User
    name: str
    git_dir: Path
    default_branch: str = "main"
    private: bool = False
    archived: bool = False
    fork: bool = False
    topics: list[str] = field(default_factory=list)
    collaborators: dict[str, str] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    def branch_sha(self, branch: str) -> str | None:
        return bare.resolve(self.git_dir, f"refs/heads/{branch}")


class World:
    """Everything the fake knows, with the helpers tests seed and inspect it by."""

    def __init__(self, app: App, root: Path) -> None:
        self.app = app
        self.root = root
        # Where the git remote serves the repos; the fixture sets it.
        self.git_url = "http://127.0.0.1:9/"
        self.users: dict[str, User] = {}
        self.installations: dict[int, Installation] = {}
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, Token] = {}
        # Every app GitHub knows, by id: the fixture's, and any registered since.
        self.apps: dict[int, App] = {app.id: app}
        self.manifest_codes: dict[str, ManifestCode] = {}
        self._ids = itertools.count(1001)
        self.bot = self.user(f"{app.slug}[bot]", type="Bot")

    def new_id(self) -> int:
        return next(self._ids)

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    def user(self, login: str, type: str = "User") -> User:
        if login not in self.users:
            self.users[login] = User(self.new_id(), login, type)
        return self.users[login]

    def install(
        self,
        account: str,
        repositories: list[str] | None = None,
        kind: str = "Organization",
    ) -> Installation:
        """Install the app on `account`, on all its repos or the named full names."""
        chosen = None if repositories is None else set(repositories)
        found = Installation(self.new_id(), self.user(account, kind), chosen)
        self.installations[found.id] = found
        return found

    def installation_for(self, full_name: str) -> Installation | None:
        return next(
            (each for each in self.installations.values() if each.covers(full_name)),
            None,
        )

    def add_repo(
        self,
        owner: str,
        name: str,
        files: dict[str, bytes | str] | None = None,
        default_branch: str = "main",
        *,
        installed: bool = True,
        empty: bool = False,
        **settings: object,
    ) -> Repo:
        """A repo whose bare git repository holds `files` in one commit.

        With `installed`, the app is installed on the owner unless it already is.
        `empty` leaves it without a commit. `settings` sets other fields:
        private, archived, fork, topics.
        """
        git_dir = self.root / owner / f"{name}.git"
        seeded = None if empty else files or {"README.md": f"# {name}\n"}
        bare.create(git_dir, seeded, default_branch)
        repo = Repo(self.new_id(), self.user(owner), name, git_dir, default_branch)
        for key, value in settings.items():
            setattr(repo, key, value)
        repo.collaborators[owner] = "admin"
        self.repos[repo.full_name] = repo
        if installed and not self.installation_for(repo.full_name):
            self.install(owner)
        return repo

    def repo(self, owner: str, name: str) -> Repo:
        return self.repos[f"{owner}/{name}"]

    def push(
        self, owner: str, name: str, branch: str, files: dict[str, bytes | str]
    ) -> str:
        """Commit `files` onto `branch` as a person would push them; the new sha."""
        repo = self.repo(owner, name)
        start = repo.branch_sha(repo.default_branch)
        if start and not repo.branch_sha(branch):
            bare.git(repo.git_dir, "update-ref", f"refs/heads/{branch}", start)
        return bare.commit_files(repo.git_dir, branch, files, f"Update {branch}")

    def grant(self, owner: str, name: str, login: str, permission: str) -> None:
        if permission not in CLASSIC_PERMISSION:
            raise ValueError(f"unknown permission {permission!r}")
        self.user(login)
        self.repo(owner, name).collaborators[login] = permission

    def permission(self, repo: Repo, login: str) -> str:
        """The role GitHub would report: none for strangers to a private repo."""
        stranger = "none" if repo.private else "read"
        return repo.collaborators.get(login, stranger)

    def open_issue(
        self, owner: str, name: str, title: str, body: str = "", user: str = "octocat"
    ) -> Issue:
        repo = self.repo(owner, name)
        number = len(repo.issues) + 1
        issue = Issue(self.new_id(), number, title, body, self.user(user), self.now())
        repo.issues[number] = issue
        return issue

    def open_pull(
        self,
        owner: str,
        name: str,
        head: str,
        base: str | None = None,
        title: str = "A change",
        body: str = "",
        user: str = "octocat",
    ) -> Issue:
        """A pull request from an existing branch `head` into `base` (the default)."""
        repo = self.repo(owner, name)
        head_sha = repo.branch_sha(head)
        if head_sha is None:
            raise ValueError(f"no branch {head!r} in {repo.full_name}")
        issue = self.open_issue(owner, name, title, body, user)
        issue.pull = Pull(head, base or repo.default_branch, head_sha)
        return issue

    def comment(
        self, owner: str, name: str, number: int, body: str, user: str = "octocat"
    ) -> Comment:
        """A comment on issue or pull `number`, by `user` (the bot's: `world.bot`)."""
        issue = self.repo(owner, name).issues[number]
        now = self.now()
        made = Comment(self.new_id(), number, self.user(user), body, now, now)
        issue.comments.append(made)
        return made

    def comments(self, owner: str, name: str, number: int) -> list[Comment]:
        return self.repo(owner, name).issues[number].comments

    def find_comment(self, repo: Repo, comment_id: int) -> Comment | None:
        for issue in repo.issues.values():
            for each in issue.comments:
                if each.id == comment_id:
                    return each
        return None

    def close(self, owner: str, name: str, number: int) -> Issue:
        """Close issue or pull `number`, as its author would."""
        issue = self.repo(owner, name).issues[number]
        issue.state, issue.closed_at = "closed", self.now()
        return issue

    def merge(self, owner: str, name: str, number: int) -> str:
        """Merge pull `number` into its base with a merge commit; that commit."""
        repo = self.repo(owner, name)
        details = repo.issues[number].pull
        if details is None or details.merged:
            raise ValueError(f"#{number} is not an unmerged pull request")
        head, base = repo.branch_sha(details.head), repo.branch_sha(details.base)
        assert head and base, "both branches must exist to merge"
        # merge-tree fails on a conflict, as the merge button would refuse.
        merged = bare.git(repo.git_dir, "merge-tree", "--write-tree", base, head)
        tree = merged.decode().split()[0]
        message = f"Merge pull request #{number} from {details.head}"
        parents = ("-p", base, "-p", head)
        made = bare.git(repo.git_dir, "commit-tree", tree, *parents, "-m", message)
        commit = made.decode().strip()
        bare.git(repo.git_dir, "update-ref", f"refs/heads/{details.base}", commit, base)
        details.head_sha, details.merged_at = head, self.now()
        self.close(owner, name, number)
        return commit

    def pulls(self, owner: str, name: str, state: str = "open") -> list[Issue]:
        """The pull requests in `state` (open, closed or all), oldest first."""
        return [
            issue
            for issue in self.repo(owner, name).issues.values()
            if issue.pull and state in ("all", issue.state)
        ]

    def issue_token(
        self, installation: Installation, repositories: set[str] | None = None
    ) -> Token:
        value = "ghs_" + secrets.token_urlsafe(27)
        expires_at = self.now() + TOKEN_LIFETIME
        token = Token(value, installation, expires_at, repositories)
        self.tokens[value] = token
        return token

    def live_token(self, value: str) -> Token | None:
        token = self.tokens.get(value)
        if token is None or token.expires_at <= self.now():
            return None
        return token

    def expire_tokens(self) -> None:
        """Age every issued token past its hour, as if the job ran long."""
        for token in self.tokens.values():
            token.expires_at = self.now() - timedelta(seconds=1)

    def register_app(
        self, manifest: dict[str, Any], owner: str, owner_type: str = "User"
    ) -> str:
        """Create the app `manifest` describes, with a fresh key and secret; the
        code its creator's browser takes back to the manifest's redirect_url."""
        keys = make_keys()
        name = str(manifest["name"])
        app = App(
            next(REGISTERED_APP_IDS),
            re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
            keys.private,
            keys.public,
            secrets.token_hex(20),
            name=name,
            owner=owner,
            owner_type=owner_type,
            permissions=dict(manifest.get("default_permissions") or {}),
            events=list(manifest.get("default_events") or []),
            hook_url=str(manifest["hook_attributes"]["url"]),
        )
        self.apps[app.id] = app
        code = secrets.token_hex(20)
        self.manifest_codes[code] = ManifestCode(app, self.now())
        return code

    def convert_manifest(self, code: str) -> App | None:
        """The app behind `code`, once; None for an unknown, used or stale code."""
        found = self.manifest_codes.pop(code, None)
        if found is None or self.now() - found.created_at > MANIFEST_CODE_LIFETIME:
            return None
        return found.app

    def age_manifest_codes(self) -> None:
        """Age every code past its hour, as if the browser took long to come back."""
        for found in self.manifest_codes.values():
            found.created_at -= MANIFEST_CODE_LIFETIME + timedelta(seconds=1)
