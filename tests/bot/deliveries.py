"""Deliveries about the fake GitHub's repositories, posted as GitHub would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import webhook_payloads as payloads
from fakehub.fixtures import Hub
from fakehub.state import Comment, Issue, Label, Repo
from gitrepos import EXAMPLE

from bot.queue import JobQueue
from bot.webhooks import LABEL


def asking_repo(hub: Hub, owner: str, name: str, maintainer: str) -> tuple[Repo, Issue]:
    """A repository holding the example training script, `maintainer` able to
    write to it, and an issue to ask on."""
    world = hub.world
    repo = world.add_repo(owner, name, {"train.py": EXAMPLE.read_bytes()})
    world.grant(owner, name, maintainer, "write")
    return repo, world.open_issue(owner, name, "Track our training runs")


@dataclass
class Sender:
    """Posts signed deliveries to the app at `url`, about the world of `hub`."""

    hub: Hub
    url: str

    def comment(
        self, repo: Repo, number: int, body: str, user: str, **changes: Any
    ) -> httpx.Response:
        """`user` comments `body` on issue or pull `number`; GitHub tells the app."""
        payload = self.comment_payload(repo, number, body, user, **changes)
        return self.post("issue_comment", payload)

    def comment_payload(
        self, repo: Repo, number: int, body: str, user: str, **changes: Any
    ) -> dict[str, Any]:
        """`user` comments `body` on issue or pull `number`: what GitHub would post."""
        made = self.hub.world.comment(repo.owner.login, repo.name, number, body, user)
        issue = repo.issues[number]
        payload = payloads.comment_created(body, on_pull_request=bool(issue.pull))
        _describe(payload, self.hub, repo, number, user)
        payload["comment"].update(id=made.id, body=body)
        payload["comment"]["user"].update(login=user, type=_type(self.hub, user))
        payload["repository"].update(changes)
        return payload

    def label(self, repo: Repo, number: int, user: str) -> httpx.Response:
        """`user` adds the bot's label to issue `number`."""
        label = repo.labels.setdefault(LABEL, Label(self.hub.world.new_id(), LABEL))
        repo.issues[number].labels.append(label)
        payload = payloads.issue_labeled(LABEL)
        _describe(payload, self.hub, repo, number, user)
        payload["label"].update(id=label.id, name=label.name)
        return self.post("issues", payload)

    def edit_issue(
        self, repo: Repo, number: int, body: str, user: str
    ) -> httpx.Response:
        """`user` rewrites the body of issue `number`, as ticking a box does."""
        issue = repo.issues[number]
        before, issue.body = issue.body or "", body
        payload = payloads.issue_edited(body, before)
        _describe(payload, self.hub, repo, number, user)
        payload["issue"]["user"].update(login=issue.user.login, type=issue.user.type)
        return self.post("issues", payload)

    def post(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        delivery: str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        body = payloads.encode(payload)
        secret = secret or self.hub.world.app.webhook_secret
        headers = payloads.signed_headers(
            body, event, delivery or str(uuid.uuid4()), secret
        )
        return httpx.post(f"{self.url}/webhook", content=body, headers=headers)


def run_jobs(queue: JobQueue) -> int:
    """Run every queued task here, retries included at once; how many ran."""
    huey = queue.huey
    # Past any retry's delay, so a rescheduled task runs now.
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    ran = 0
    while True:
        task = huey.dequeue()
        if task is None:
            scheduled = huey.read_schedule(later)
            if not scheduled:
                return ran
            for each in scheduled:
                huey.enqueue(each)
            continue
        huey.execute(task, later)
        ran += 1


def status_comments(hub: Hub, repo: Repo, number: int) -> list[Comment]:
    """The bot's comments on issue or pull `number`."""
    bot = hub.world.bot
    return [each for each in repo.issues[number].comments if each.user is bot]


def _describe(
    payload: dict[str, Any], hub: Hub, repo: Repo, number: int, user: str
) -> None:
    """Point an example payload at `repo`, its issue `number` and `user`."""
    installation = hub.world.installation_for(repo.full_name)
    assert installation is not None
    payload["installation"]["id"] = installation.id
    payload["repository"].update(
        id=repo.id,
        name=repo.name,
        full_name=repo.full_name,
        archived=repo.archived,
        fork=repo.fork,
    )
    payload["repository"]["owner"]["login"] = repo.owner.login
    payload["issue"]["number"] = number
    payload["sender"].update(login=user, type=_type(hub, user))


def _type(hub: Hub, login: str) -> str:
    return hub.world.user(login).type
