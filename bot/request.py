"""One request to the bot, as the webhook app queues it and the job reads it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Trigger(StrEnum):
    """How the request was made."""

    # `/wandb-inject` on a pull request: work on its head branch, PR into it.
    PR_COMMENT = "pr_comment"
    # `/wandb-inject` on an issue: work on the default branch, link the issue.
    ISSUE_COMMENT = "issue_comment"
    # The `wandb-inject` label added to an issue (the bot removes it).
    ISSUE_LABEL = "issue_label"
    # A box ticked on a scan's dashboard issue: the ticked scripts, by `paths`.
    DASHBOARD = "dashboard"


@dataclass(frozen=True)
class Arguments:
    """What the comment asked for, after `/wandb-inject`."""

    dry_run: bool = False
    recreate: bool = False
    paths: tuple[str, ...] = ()
    project: str | None = None


@dataclass(frozen=True)
class Request:
    """Everything the job needs, in plain values that survive the queue as JSON.

    `problem` is set when the comment could not be understood (an unknown
    argument, say): the job then only replies with it.
    """

    delivery_id: str
    installation_id: int
    owner: str
    repo: str
    trigger: Trigger
    number: int
    requested_by: str
    comment_id: int | None = None
    arguments: Arguments = field(default_factory=Arguments)
    problem: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def log_context(self) -> dict[str, Any]:
        """What a log line about this request carries in `extra=`."""
        return {
            "delivery": self.delivery_id,
            "installation": self.installation_id,
            "repo": self.full_name,
            "trigger": str(self.trigger),
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Request:
        arguments = dict(data.get("arguments") or {})
        arguments["paths"] = tuple(arguments.get("paths", ()))
        return cls(
            **{
                **data,
                "trigger": Trigger(data["trigger"]),
                "arguments": Arguments(**arguments),
            }
        )
