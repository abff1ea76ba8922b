"""Webhook deliveries: check the signature, then route each to a request or a reason."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.dashboard import is_dashboard, ticked
from bot.files import project_name_problem
from bot.request import Arguments, Request, Trigger

COMMAND = "/wandb-inject"
LABEL = "wandb-inject"
SIGNATURE_PREFIX = "sha256="
# GitHub's ids and numbers are positive and fit a signed 64-bit integer, as the
# store's SQLite columns do.
MAX_ID = 2**63 - 1
ARGUMENTS_HELP = "`dry-run`, `recreate`, `paths=a.py,src/b.py` and `project=name`"


class MalformedPayload(ValueError):
    """A signed payload that lacks a field its event always has."""


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery, with its JSON body already parsed."""

    id: str
    event: str
    payload: dict[str, Any]

    @property
    def action(self) -> str:
        action = self.payload.get("action")
        return action if isinstance(action, str) else ""

    @property
    def repository(self) -> str:
        """The repository's full name, for logs; empty when the event has none."""
        repository = self.payload.get("repository")
        if isinstance(repository, dict):
            return str(repository.get("full_name", ""))
        return ""

    @property
    def installation(self) -> int | None:
        """The app installation's id, for logs; None when the event has none."""
        installation = self.payload.get("installation")
        if not isinstance(installation, dict):
            return None
        found = installation.get("id")
        return found if isinstance(found, int) and not isinstance(found, bool) else None


@dataclass(frozen=True)
class Ignored:
    """Nothing to do, and why."""

    reason: str


@dataclass(frozen=True)
class InstallationChange:
    """A change to which repositories an installation of the app covers."""

    installation_id: int
    account: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # `added` is the whole list: forget the repositories it does not name.
    complete: bool = False
    uninstalled: bool = False


@dataclass(frozen=True)
class Command:
    """A `/wandb-inject` line: its arguments, or what was wrong with them."""

    arguments: Arguments
    problem: str | None = None


Outcome = Request | InstallationChange | Ignored
_Handler = Callable[[Delivery, str | None], Outcome]


def signature_is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is GitHub's X-Hub-Signature-256 of `body` under `secret`."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(SIGNATURE_PREFIX + digest, header)


def route(delivery: Delivery, bot_login: str | None) -> Outcome:
    """What a delivery asks of the app; raises MalformedPayload on a broken one."""
    handler = _HANDLERS.get((delivery.event, delivery.action))
    if handler is None:
        # Some events, like ping, have no action.
        named = " ".join(part for part in (delivery.event, delivery.action) if part)
        return Ignored(f"{named}: not handled")
    return handler(delivery, bot_login)


def parse_command(body: str) -> Command | None:
    """The comment's command when its first line starts with `/wandb-inject`."""
    lines = body.strip().splitlines()
    words = lines[0].split() if lines else []
    if not words or words[0] != COMMAND:
        return None
    flags: dict[str, bool] = {"dry-run": False, "recreate": False}
    paths: tuple[str, ...] = ()
    project: str | None = None
    unknown: list[str] = []
    problems: list[str] = []
    for word in words[1:]:
        name, equals, value = word.partition("=")
        if not equals and name in flags:
            flags[name] = True
        elif equals and name == "paths":
            paths = tuple(path for path in value.split(",") if path.strip())
            if not paths:
                problems.append("`paths=` needs at least one path: `paths=train.py`.")
        elif equals and name == "project":
            project = value
            problem = project_name_problem(value)
            if problem:
                problems.append(f"`project=`: {problem}.")
        else:
            unknown.append(word)
    if unknown:
        named = ", ".join(f"`{word}`" for word in unknown)
        problems.insert(0, f"I don't know {named}. `{COMMAND}` takes {ARGUMENTS_HELP}.")
    arguments = Arguments(flags["dry-run"], flags["recreate"], paths, project)
    return Command(arguments, " ".join(problems) or None)


def _on_comment_created(delivery: Delivery, bot_login: str | None) -> Outcome:
    payload = delivery.payload
    command = parse_command(_text(payload, "comment", "body"))
    if command is None:
        return Ignored(f"the comment does not start with {COMMAND}")
    author = _text(payload, "comment", "user", "login")
    if _get(payload, "comment", "user", "type") == "Bot" or _is_me(author, bot_login):
        return Ignored(f"the comment is by a bot ({author})")
    skip = _repository_skip(payload)
    if skip:
        return skip
    on_pull_request = bool(_mapping(payload, "issue").get("pull_request"))
    trigger = Trigger.PR_COMMENT if on_pull_request else Trigger.ISSUE_COMMENT
    return _request(
        delivery,
        trigger,
        author,
        comment_id=_number(payload, "comment", "id"),
        command=command,
    )


def _on_issue_labeled(delivery: Delivery, bot_login: str | None) -> Outcome:
    payload = delivery.payload
    label = payload.get("label")
    if not isinstance(label, dict) or label.get("name") != LABEL:
        return Ignored(f"the label added is not {LABEL!r}")
    sender = _text(payload, "sender", "login")
    if _is_me(sender, bot_login):
        return Ignored("the label was added by this app")
    skip = _repository_skip(payload)
    if skip:
        return skip
    return _request(delivery, Trigger.ISSUE_LABEL, sender)


def _on_issue_edited(delivery: Delivery, bot_login: str | None) -> Outcome:
    payload = delivery.payload
    body = _get(payload, "issue").get("body") or ""
    author = _text(payload, "issue", "user", "login")
    mine = _get(payload, "issue", "user", "type") == "Bot" and (
        bot_login is None or _is_me(author, bot_login)
    )
    if not (mine and is_dashboard(body)):
        return Ignored("not the app's dashboard issue")
    sender = _text(payload, "sender", "login")
    if _get(payload, "sender", "type") == "Bot" or _is_me(sender, bot_login):
        return Ignored(f"edited by a bot ({sender})")
    before = (payload.get("changes") or {}).get("body", {}).get("from")
    chosen = ticked(body)
    if not isinstance(before, str) or not set(chosen) - set(ticked(before)):
        return Ignored("no box newly ticked")
    skip = _repository_skip(payload)
    if skip:
        return skip
    # Every ticked script, not only the new one: they share one pull request.
    command = Command(Arguments(paths=chosen))
    return _request(delivery, Trigger.DASHBOARD, sender, command=command)


def _on_installation_created(delivery: Delivery, bot_login: str | None) -> Outcome:
    payload = delivery.payload
    repositories = _names(payload.get("repositories"))
    return InstallationChange(
        _number(payload, "installation", "id"),
        _text(payload, "installation", "account", "login"),
        added=repositories,
        complete=True,
    )


def _on_installation_deleted(delivery: Delivery, bot_login: str | None) -> Outcome:
    payload = delivery.payload
    return InstallationChange(
        _number(payload, "installation", "id"),
        _text(payload, "installation", "account", "login"),
        uninstalled=True,
    )


def _on_repositories_changed(delivery: Delivery, bot_login: str | None) -> Outcome:
    payload = delivery.payload
    return InstallationChange(
        _number(payload, "installation", "id"),
        _text(payload, "installation", "account", "login"),
        added=_names(payload.get("repositories_added")),
        removed=_names(payload.get("repositories_removed")),
    )


_HANDLERS: dict[tuple[str, str], _Handler] = {
    ("issue_comment", "created"): _on_comment_created,
    ("issues", "labeled"): _on_issue_labeled,
    ("issues", "edited"): _on_issue_edited,
    ("installation", "created"): _on_installation_created,
    ("installation", "deleted"): _on_installation_deleted,
    ("installation_repositories", "added"): _on_repositories_changed,
    ("installation_repositories", "removed"): _on_repositories_changed,
}
# The events the app acts on or expects (GitHub pings a new webhook).
KNOWN_EVENTS = frozenset({"ping", *(event for event, _ in _HANDLERS)})


def handled_events() -> frozenset[str]:
    """The events some handler acts on, by GitHub's event names."""
    return frozenset(event for event, _ in _HANDLERS)


def _request(
    delivery: Delivery,
    trigger: Trigger,
    requested_by: str,
    *,
    comment_id: int | None = None,
    command: Command | None = None,
) -> Request:
    payload = delivery.payload
    return Request(
        delivery_id=delivery.id,
        installation_id=_number(payload, "installation", "id"),
        owner=_text(payload, "repository", "owner", "login"),
        repo=_text(payload, "repository", "name"),
        trigger=trigger,
        number=_number(payload, "issue", "number"),
        requested_by=requested_by,
        comment_id=comment_id,
        arguments=command.arguments if command else Arguments(),
        problem=command.problem if command else None,
    )


def _repository_skip(payload: dict[str, Any]) -> Ignored | None:
    """Why the job could not act on this repository at all, if it could not."""
    if not isinstance(payload.get("installation"), dict):
        return Ignored("no installation: sent by a repository webhook, not the app")
    repository = _mapping(payload, "repository")
    # Nothing can be pushed to an archived repository.
    if repository.get("archived"):
        return Ignored("the repository is archived")
    # A fork is left to its upstream: changes there would reach a copy, not the
    # project people train from.
    if repository.get("fork"):
        return Ignored("the repository is a fork")
    return None


def _is_me(login: str, bot_login: str | None) -> bool:
    return bot_login is not None and login.lower() == bot_login.lower()


def _names(repositories: Any) -> tuple[str, ...]:
    if not isinstance(repositories, list):
        return ()
    names = (item.get("full_name") for item in repositories if isinstance(item, dict))
    return tuple(name for name in names if isinstance(name, str))


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            raise MalformedPayload(f"the payload has no {'.'.join(path)}")
        data = data[key]
    return data


def _mapping(data: Any, *path: str) -> dict[str, Any]:
    value = _get(data, *path)
    if not isinstance(value, dict):
        raise MalformedPayload(f"the payload's {'.'.join(path)} is not an object")
    return value


def _text(data: Any, *path: str) -> str:
    value = _get(data, *path)
    if not isinstance(value, str):
        raise MalformedPayload(f"the payload's {'.'.join(path)} is not text")
    return value


def _number(data: Any, *path: str) -> int:
    value = _get(data, *path)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedPayload(f"the payload's {'.'.join(path)} is not a number")
    if not 0 < value <= MAX_ID:
        raise MalformedPayload(f"the payload's {'.'.join(path)} is out of range")
    return value
