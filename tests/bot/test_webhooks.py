"""Routing deliveries from GitHub's examples to requests, changes or reasons."""

from __future__ import annotations

import json
from typing import Any

import pytest
import webhook_payloads as payloads
from githubkit.webhooks import parse, sign

from bot.request import Arguments, Request, Trigger
from bot.webhooks import (
    Delivery,
    Ignored,
    InstallationChange,
    MalformedPayload,
    parse_command,
    route,
    signature_is_valid,
)

BOT = "wandb-inject[bot]"


def _route(event: str, payload: dict[str, Any], bot_login: str | None = BOT) -> Any:
    return route(Delivery("delivery-1", event, payload), bot_login)


@pytest.mark.parametrize(
    ("event", "build"),
    [
        pytest.param("issue_comment", lambda: payloads.comment_created("/x"), id="c"),
        pytest.param(
            "issue_comment",
            lambda: payloads.comment_created("/x", on_pull_request=True),
            id="pr-comment",
        ),
        pytest.param("issues", lambda: payloads.issue_labeled("wandb-inject"), id="l"),
        pytest.param("installation", payloads.installation_created, id="created"),
        pytest.param("installation", payloads.installation_deleted, id="deleted"),
        pytest.param(
            "installation_repositories",
            lambda: payloads.repositories_changed("added"),
            id="added",
        ),
    ],
)
def test_test_payloads_are_valid_for_githubkit(event: str, build: Any) -> None:
    parse(event, json.dumps(build()))


def test_signature_of_the_raw_body_is_accepted() -> None:
    body = b'{"zen": "Design for failure."}'

    assert signature_is_valid("s3cret", body, sign("s3cret", body))


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(sign("other secret", b"{}"), id="other-secret"),
        pytest.param(sign("s3cret", b"{ }"), id="other-body"),
        pytest.param(sign("s3cret", b"{}").removeprefix("sha256="), id="no-prefix"),
        pytest.param("sha1=" + "0" * 40, id="sha1"),
    ],
)
def test_forged_or_missing_signatures_are_refused(header: str | None) -> None:
    assert not signature_is_valid("s3cret", b"{}", header)


def test_command_on_an_issue_becomes_an_issue_request() -> None:
    payload = payloads.comment_created("/wandb-inject dry-run\n\nthanks!")

    request = _route("issue_comment", payload)

    assert request == Request(
        delivery_id="delivery-1",
        installation_id=payloads.INSTALLATION["id"],
        owner="Codertocat",
        repo="Hello-World",
        trigger=Trigger.ISSUE_COMMENT,
        number=payload["issue"]["number"],
        requested_by="Codertocat",
        comment_id=payload["comment"]["id"],
        arguments=Arguments(dry_run=True),
    )


def test_command_on_a_pull_request_becomes_a_pr_request() -> None:
    payload = payloads.comment_created("/wandb-inject", on_pull_request=True)

    request = _route("issue_comment", payload)

    assert isinstance(request, Request)
    assert request.trigger is Trigger.PR_COMMENT
    assert request.problem is None


def test_wandb_inject_label_becomes_a_label_request() -> None:
    payload = payloads.issue_labeled("wandb-inject")

    request = _route("issues", payload)

    assert isinstance(request, Request)
    assert request.trigger is Trigger.ISSUE_LABEL
    assert request.requested_by == payload["sender"]["login"]
    assert request.comment_id is None


def test_unknown_argument_becomes_a_request_with_the_problem() -> None:
    payload = payloads.comment_created("/wandb-inject --dry-run please")

    request = _route("issue_comment", payload)

    assert isinstance(request, Request)
    assert request.problem is not None
    assert "`--dry-run`, `please`" in request.problem
    assert "`dry-run`, `recreate`, `paths=" in request.problem


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("please run /wandb-inject", "does not start", id="not-first"),
        pytest.param("/wandb-injector", "does not start", id="longer-word"),
        pytest.param("", "does not start", id="empty"),
    ],
)
def test_comments_without_the_command_are_ignored(body: str, reason: str) -> None:
    outcome = _route("issue_comment", payloads.comment_created(body))

    assert isinstance(outcome, Ignored)
    assert reason in outcome.reason


def test_comment_by_the_bot_itself_is_ignored() -> None:
    payload = payloads.comment_created("/wandb-inject")
    payload["comment"]["user"]["login"] = BOT

    outcome = _route("issue_comment", payload)

    assert outcome == Ignored(f"the comment is by a bot ({BOT})")


def test_comment_by_any_bot_is_ignored() -> None:
    payload = payloads.comment_created("/wandb-inject")
    payload["comment"]["user"].update(login="other-app[bot]", type="Bot")

    outcome = _route("issue_comment", payload, bot_login=None)

    assert isinstance(outcome, Ignored)


def test_label_added_by_the_bot_itself_is_ignored() -> None:
    payload = payloads.issue_labeled("wandb-inject")
    payload["sender"]["login"] = BOT

    assert isinstance(_route("issues", payload), Ignored)


def test_other_labels_are_ignored() -> None:
    outcome = _route("issues", payloads.issue_labeled("bug"))

    assert outcome == Ignored("the label added is not 'wandb-inject'")


@pytest.mark.parametrize(
    ("event", "action"),
    [
        pytest.param("issue_comment", "edited", id="edited"),
        pytest.param("issue_comment", "deleted", id="deleted"),
        pytest.param("issues", "opened", id="opened"),
        pytest.param("ping", None, id="ping"),
    ],
)
def test_other_events_and_actions_are_ignored(event: str, action: str | None) -> None:
    payload = payloads.example(event, action)
    if "comment" in payload:
        payload["comment"]["body"] = "/wandb-inject"

    outcome = _route(event, payload)

    assert isinstance(outcome, Ignored)
    assert "not handled" in outcome.reason


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        pytest.param("archived", "the repository is archived", id="archived"),
        pytest.param("fork", "the repository is a fork", id="fork"),
    ],
)
def test_archived_and_forked_repositories_are_ignored(field: str, reason: str) -> None:
    payload = payloads.comment_created("/wandb-inject")
    payload["repository"][field] = True

    assert _route("issue_comment", payload) == Ignored(reason)


def test_delivery_without_an_installation_is_ignored() -> None:
    payload = payloads.comment_created("/wandb-inject")
    del payload["installation"]

    outcome = _route("issue_comment", payload)

    assert isinstance(outcome, Ignored)
    assert "installation" in outcome.reason


def test_payload_missing_a_field_is_malformed() -> None:
    payload = payloads.comment_created("/wandb-inject")
    del payload["issue"]["number"]

    with pytest.raises(MalformedPayload, match=r"issue\.number"):
        _route("issue_comment", payload)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        pytest.param("issue", "#7", r"issue is not an object", id="issue-text"),
        pytest.param("repository", [], r"repository is not an object", id="repo-list"),
    ],
)
def test_payload_with_an_object_of_the_wrong_kind_is_malformed(
    field: str, value: Any, reason: str
) -> None:
    payload = payloads.comment_created("/wandb-inject")
    payload[field] = value

    with pytest.raises(MalformedPayload, match=reason):
        _route("issue_comment", payload)


def test_installation_created_lists_its_repositories() -> None:
    payload = payloads.installation_created()

    change = _route("installation", payload)

    assert change == InstallationChange(
        payload["installation"]["id"],
        payload["installation"]["account"]["login"],
        added=tuple(item["full_name"] for item in payload["repositories"]),
        complete=True,
    )
    assert change.added


def test_installation_deleted_forgets_it() -> None:
    change = _route("installation", payloads.installation_deleted())

    assert isinstance(change, InstallationChange)
    assert change.uninstalled


@pytest.mark.parametrize("action", ["added", "removed"])
def test_repositories_added_and_removed(action: str) -> None:
    payload = payloads.repositories_changed(action)

    change = _route("installation_repositories", payload)

    assert isinstance(change, InstallationChange)
    assert change.added == tuple(
        item["full_name"] for item in payload["repositories_added"]
    )
    assert change.removed == tuple(
        item["full_name"] for item in payload["repositories_removed"]
    )
    assert change.added or change.removed


@pytest.mark.parametrize(
    ("body", "arguments"),
    [
        pytest.param("/wandb-inject", Arguments(), id="bare"),
        pytest.param("  /wandb-inject  \r\nmore", Arguments(), id="spaces-crlf"),
        pytest.param("/wandb-inject recreate", Arguments(recreate=True), id="recreate"),
        pytest.param(
            "/wandb-inject paths=train.py,src/**/*.py, project=digits dry-run",
            Arguments(
                dry_run=True, paths=("train.py", "src/**/*.py"), project="digits"
            ),
            id="all",
        ),
    ],
)
def test_command_arguments(body: str, arguments: Arguments) -> None:
    command = parse_command(body)

    assert command is not None
    assert command.problem is None
    assert command.arguments == arguments


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param("/wandb-inject paths=", "`paths=` needs", id="no-paths"),
        pytest.param("/wandb-inject paths=,", "`paths=` needs", id="comma-only"),
        pytest.param("/wandb-inject project=", "`project=`", id="no-project"),
        pytest.param("/wandb-inject project=a/b", "not allow", id="bad-project"),
        pytest.param("/wandb-inject dry-run=yes", "`dry-run=yes`", id="flag-value"),
        pytest.param("/wandb-inject force", "I don't know `force`", id="unknown"),
    ],
)
def test_command_problems(body: str, problem: str) -> None:
    command = parse_command(body)

    assert command is not None
    assert command.problem is not None
    assert problem in command.problem
