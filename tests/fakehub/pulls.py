"""Pull request endpoints: list, read, open and edit; numbers are shared with issues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakehub import bare, render
from fakehub.calls import Context, Refusal, Reply, invalid, not_found, paginate
from fakehub.state import Issue, Pull, Repo

# The fake keeps no edit times, so `updated` orders as `created` does, and
# `long-running` ignores GitHub's window of a month open and a month active.
ORDERS: dict[str, Callable[[Issue], Any]] = {
    "created": lambda issue: (issue.created_at, issue.number),
    "updated": lambda issue: (issue.created_at, issue.number),
    "popularity": lambda issue: (len(issue.comments), issue.number),
    "long-running": lambda issue: (issue.created_at, issue.number),
}


def list_pulls(context: Context) -> Reply:
    world, repo, query = context.world, context.the_repo, context.query
    chosen = [
        issue
        for issue in repo.issues.values()
        if issue.pull and _wanted(repo, issue, issue.pull, query)
    ]
    order = query.get("sort", "created")
    # GitHub lists newest first by default, every other order oldest first.
    direction = query.get("direction", "desc" if order == "created" else "asc")
    chosen.sort(key=ORDERS[order], reverse=direction == "desc")
    shown, headers = paginate(context, chosen)
    body = [render.pull_simple(world, repo, each) for each in shown]
    return Reply(200, body, headers)


def get_pull(context: Context) -> Reply:
    return Reply(200, render.pull(context.world, context.the_repo, _pull(context)))


def create_pull(context: Context) -> Reply:
    world, repo, asked = context.world, context.the_repo, context.body
    _refuse_archived(repo)
    if not asked.get("title"):
        raise invalid("PullRequest", "title", "missing_field")
    head, base = _own_branch(repo, asked["head"]), asked["base"]
    if repo.branch_sha(base) is None:
        raise invalid("PullRequest", "base")
    if head is None or repo.branch_sha(head) is None:
        raise invalid("PullRequest", "head")
    _refuse_duplicate(repo, head, base)
    if head == base or not bare.count_ahead(repo.git_dir, _ref(base), _ref(head)):
        raise _custom(f"No commits between {base} and {head}")
    owner, name = repo.owner.login, repo.name
    # Installation tokens act as the app's bot user.
    made = world.open_pull(
        owner, name, head, base, asked["title"], user=world.bot.login
    )
    made.body = asked.get("body")
    assert made.pull is not None
    made.pull.draft = bool(asked.get("draft", False))
    shown = render.pull(world, repo, made)
    return Reply(201, shown, {"location": shown["url"]})


def update_pull(context: Context) -> Reply:
    world, repo, changes = context.world, context.the_repo, context.body or {}
    found = _pull(context)
    assert found.pull is not None
    _refuse_archived(repo)
    if "base" in changes and repo.branch_sha(changes["base"]) is None:
        raise invalid("PullRequest", "base")
    state = changes.get("state", found.state)
    if state != found.state:
        _change_state(context, found, found.pull, state)
    found.title = changes.get("title", found.title)
    found.body = changes.get("body", found.body)
    found.pull.base = changes.get("base", found.pull.base)
    return Reply(200, render.pull(world, repo, found))


def _change_state(context: Context, found: Issue, details: Pull, state: str) -> None:
    repo = context.the_repo
    if details.merged:
        raise _custom("A merged pull request cannot be reopened", "state")
    if state == "closed":
        context.world.close(repo.owner.login, repo.name, found.number)
        return
    if repo.branch_sha(details.head) is None:
        raise _custom(
            "The head branch was deleted: the pull request stays closed", "state"
        )
    _refuse_duplicate(repo, details.head, details.base)
    found.state, found.closed_at = "open", None


def _wanted(repo: Repo, issue: Issue, details: Pull, query: dict[str, str]) -> bool:
    if query.get("state", "open") not in ("all", issue.state):
        return False
    head = query.get("head", "")
    # GitHub silently ignores a head filter without its `owner:` part.
    if ":" in head:
        owner, _, branch = head.partition(":")
        if owner.lower() != repo.owner.login.lower() or branch != details.head:
            return False
    base = query.get("base")
    return base is None or base == details.base


def _own_branch(repo: Repo, head: str) -> str | None:
    """The branch `head` names in this repository; None for another owner's fork."""
    owner, colon, branch = head.rpartition(":")
    # Forks are not modelled: a head in another owner's repository is unknown.
    if colon and owner.lower() != repo.owner.login.lower():
        return None
    return branch


def _refuse_duplicate(repo: Repo, head: str, base: str) -> None:
    open_ends = {
        (issue.pull.head, issue.pull.base)
        for issue in repo.issues.values()
        if issue.pull and issue.state == "open"
    }
    if (head, base) in open_ends:
        raise _custom(f"A pull request already exists for {repo.owner.login}:{head}.")


def _refuse_archived(repo: Repo) -> None:
    if repo.archived:
        raise Refusal(403, "Repository was archived so is read-only.")


def _pull(context: Context) -> Issue:
    found = context.the_repo.issues.get(context.number("pull_number"))
    # An issue's number is no pull request's, though they share the sequence.
    if found is None or found.pull is None:
        raise not_found()
    return found


def _custom(message: str, field: str | None = None) -> Refusal:
    error = {"resource": "PullRequest", "code": "custom", "message": message}
    if field:
        error["field"] = field
    return Refusal(422, "Validation Failed", [error])


def _ref(branch: str) -> str:
    return f"refs/heads/{branch}"


ROUTES = [
    ("GET", "/repos/{owner}/{repo}/pulls", list_pulls),
    ("POST", "/repos/{owner}/{repo}/pulls", create_pull),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", get_pull),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", update_pull),
]
