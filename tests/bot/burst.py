"""A burst of comment deliveries across many repositories, and its exactly-once checks.

Some repositories hold a training script (each gets one pull request), others
nothing to inject (each gets none). Most comments ask for the bot, a few are
plain talk the bot must ignore. After the burst every request must have one
status comment with its final outcome and one reaction, and nothing more.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx
import webhook_payloads as payloads
from deliveries import Sender
from fakehub.state import Comment, Issue, Repo, World
from gitrepos import EXAMPLE

from bot.flow import NOTHING_TO_DO, OPENED, UPDATED, status_marker
from bot.queue import flow_handlers, open_queue
from bot.settings import Settings
from bot.webhooks import COMMAND

OWNER, USER = "load", "alice"
ISSUES_PER_REPO = 2
# Every this many deliveries is a plain comment, not a request.
PLAIN_EVERY = 10
PLAIN_TEXT = "Thanks, this looks good to me."
# Repositories the bot finds nothing to change in: only docs, or no training.
NOTHING_FILES: tuple[dict[str, bytes | str], ...] = (
    {"README.md": "# Notes\n"},
    {"helpers.py": "def add(a, b):\n    return a + b\n"},
)
# The status a finished request ends on, by whether its repository gets a PR.
_OPENED, _UPDATED, _NOTHING = (
    template.partition("{")[0] for template in (OPENED, UPDATED, NOTHING_TO_DO)
)
_FINAL = (_OPENED, _UPDATED, _NOTHING)
_BAD_LOG = ("Traceback", "job failed", "gave up", "could not be reported")
POLL_SECONDS = 0.25
# What one post gives back: the delivery id, the status answered, the seconds.
Post = tuple[str, int, float]


@dataclass(frozen=True)
class Planned:
    """One delivery of the burst: its encoded payload, and what it should cause."""

    repo: Repo
    issue: Issue
    comment: Comment
    body: bytes
    requests: bool
    wants_pull: bool


@dataclass(frozen=True)
class Sent:
    """A delivery posted: its id, the status answered and the seconds it took."""

    planned: Planned
    delivery: str
    status: int
    seconds: float


def plan(
    sender: Sender,
    repos: int,
    deliveries: int,
    nothing_every: int = 5,
    prefix: str = "project",
) -> list[Planned]:
    """Seed `repos` repositories and the comments of `deliveries`, shuffled.

    Every `nothing_every`th repository has nothing to inject.
    """
    world = sender.hub.world
    planned: list[Planned] = []
    for index in range(repos):
        wants_pull = index % nothing_every != nothing_every - 1
        repo = _seed_repo(world, f"{prefix}-{index}", wants_pull, index)
        issues = [
            world.open_issue(OWNER, repo.name, f"Track runs {n}")
            for n in range(ISSUES_PER_REPO)
        ]
        share = deliveries // repos + (index < deliveries % repos)
        for turn in range(share):
            requests = len(planned) % PLAIN_EVERY != PLAIN_EVERY - 1
            text = COMMAND if requests else PLAIN_TEXT
            issue = issues[turn % ISSUES_PER_REPO]
            payload = sender.comment_payload(repo, issue.number, text, USER)
            comment = issue.comments[-1]
            body = payloads.encode(payload)
            planned.append(Planned(repo, issue, comment, body, requests, wants_pull))
    random.Random(0).shuffle(planned)
    return planned


def _seed_repo(world: World, name: str, wants_pull: bool, index: int) -> Repo:
    files = (
        {"train.py": EXAMPLE.read_bytes()}
        if wants_pull
        else NOTHING_FILES[index % len(NOTHING_FILES)]
    )
    repo = world.add_repo(OWNER, name, files)
    world.grant(OWNER, name, USER, "write")
    return repo


def fire(
    url: str, secret: str, bodies: list[bytes], clients: int
) -> tuple[float, list[Post]]:
    """Post every body as a new signed delivery from `clients` threads at once.

    Each client keeps one connection open, as GitHub's senders do. Returns the
    wall-clock time the burst began, and one post for each body, in order.
    """
    posts: list[Post | None] = [None] * len(bodies)
    start = threading.Barrier(clients + 1)

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            start.wait()
            for index in range(offset, len(bodies), clients):
                posts[index] = _post(http, secret, bodies[index])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.time()
    for thread in threads:
        thread.join()
    assert all(post is not None for post in posts), "a client thread failed"
    return began, [post for post in posts if post is not None]


def _post(http: httpx.Client, secret: str, body: bytes) -> Post:
    delivery = str(uuid.uuid4())
    headers = payloads.signed_headers(body, "issue_comment", delivery, secret)
    began = time.perf_counter()
    try:
        status = http.post("/webhook", content=body, headers=headers).status_code
    except httpx.TransportError:
        status = 0
    return delivery, status, time.perf_counter() - began


def sent(planned: list[Planned], posts: list[Post]) -> list[Sent]:
    return [Sent(each, *post) for each, post in zip(planned, posts, strict=True)]


def finished(deliveries: Iterable[Sent]) -> int:
    """How many of the requests among `deliveries` have their final status."""
    return sum(
        1 for each in deliveries if each.planned.requests and _final(_statuses(each))
    )


def problems(deliveries: list[Sent], world: World, logs: str) -> list[str]:
    """Everything that went wrong: unanswered, repeated or lost work, bad PRs."""
    found = []
    for each in deliveries:
        found.extend(_delivery_problems(each, world))
    found.extend(_pull_problems(deliveries, world))
    found.extend(_log_problems(deliveries, logs))
    return found


def _delivery_problems(each: Sent, world: World) -> list[str]:
    planned, name = each.planned, f"delivery {each.delivery}"
    expected = 202 if planned.requests else 200
    if each.status != expected:
        return [f"{name}: answered {each.status}, not {expected}"]
    statuses = _statuses(each)
    reactions = [r for r in planned.comment.reactions if r.user is world.bot]
    if not planned.requests:
        return [f"{name}: a plain comment got a reply"] if statuses or reactions else []
    found = []
    if len(reactions) != 1:
        found.append(f"{name}: {len(reactions)} reactions, not 1")
    if len(statuses) != 1:
        found.append(f"{name}: {len(statuses)} status comments, not 1")
    allowed = (_OPENED, _UPDATED) if planned.wants_pull else (_NOTHING,)
    if statuses and _outcome(statuses[0]) not in allowed:
        found.append(f"{name}: ended on {statuses[0].body!r}")
    return found


def _pull_problems(deliveries: list[Sent], world: World) -> list[str]:
    repos = {each.planned.repo.name: each.planned for each in deliveries}
    opened = Counter(
        each.planned.repo.name
        for each in deliveries
        if each.planned.requests and _outcome_of(each) == _OPENED
    )
    found = []
    for name, planned in sorted(repos.items()):
        pulls = len(world.pulls(OWNER, name, "all"))
        wanted = 1 if planned.wants_pull else 0
        if pulls != wanted or opened[name] != wanted:
            found.append(
                f"{name}: {pulls} pull requests and {opened[name]} 'opened' "
                f"statuses, not {wanted}"
            )
    return found


def _log_problems(deliveries: list[Sent], logs: str) -> list[str]:
    done = Counter(_jobs_done(logs))
    found = [
        f"delivery {each.delivery}: its job ran {done[each.delivery]} times, not 1"
        for each in deliveries
        if each.planned.requests and done[each.delivery] != 1
    ]
    for line in logs.splitlines():
        if any(bad in line for bad in _BAD_LOG):
            found.append(f"the log says: {line}")
    return found


def _jobs_done(logs: str) -> list[str]:
    """The delivery of each `job done` line in the processes' JSON logs."""
    found = []
    for line in logs.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short while the process writes it
        if entry.get("logger") == "bot.queue" and entry.get("message") == "job done":
            found.append(str(entry.get("delivery")))
    return found


def jobs_done(logs: str) -> int:
    return len(_jobs_done(logs))


def wait_drained(
    deliveries: list[Sent], logs: Callable[[], str], seconds: float
) -> float:
    """Wait until every request has its final status and its job's log line.

    Returns the wall-clock time it was so; raises TimeoutError past `seconds`.
    """
    requests = sum(each.planned.requests for each in deliveries)
    wanted = {each.delivery for each in deliveries if each.planned.requests}
    deadline = time.monotonic() + seconds
    while finished(deliveries) < requests or wanted - set(_jobs_done(logs())):
        if time.monotonic() > deadline:
            done = finished(deliveries)
            raise TimeoutError(f"{done} of {requests} requests done in {seconds} s")
        time.sleep(POLL_SECONDS)
    return time.time()


def queue_left(env: dict[str, str]) -> int:
    """Tasks still queued or scheduled in the queue the processes of `env` use."""
    settings = Settings.from_environment(env)
    huey = open_queue(settings, flow_handlers(settings)).huey
    return int(huey.pending_count() + huey.scheduled_count())


def _statuses(each: Sent) -> list[Comment]:
    marker = status_marker(each.delivery)
    return [c for c in list(each.planned.issue.comments) if c.body.startswith(marker)]


def _final(statuses: list[Comment]) -> bool:
    return bool(statuses) and _outcome(statuses[0]) in _FINAL


def _outcome_of(each: Sent) -> str | None:
    statuses = _statuses(each)
    return _outcome(statuses[0]) if statuses else None


def _outcome(status: Comment) -> str | None:
    text = status.body.partition("\n")[2]
    return next((prefix for prefix in _FINAL if text.startswith(prefix)), None)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
