"""Issue endpoints: the issue, its comments, reactions and labels."""

from __future__ import annotations

from fakehub import render
from fakehub.calls import Context, Refusal, Reply, invalid, not_found, paginate
from fakehub.state import Comment, Issue, Label, Reaction, Repo


def get_issue(context: Context) -> Reply:
    found = _issue(context)
    return Reply(200, render.issue(context.the_repo, found))


def list_issues(context: Context) -> Reply:
    repo, query = context.the_repo, context.query
    state = query.get("state", "open")
    creator = query.get("creator", "").lower()
    # GitHub lists pull requests among the issues, newest first.
    chosen = [
        each
        for each in sorted(repo.issues.values(), key=lambda i: i.number, reverse=True)
        if state in ("all", each.state)
        and (not creator or each.user.login.lower() == creator)
    ]
    shown, headers = paginate(context, chosen)
    return Reply(200, [render.issue(repo, each) for each in shown], headers)


def create_issue(context: Context) -> Reply:
    repo = context.the_repo
    _refuse_archived(repo)
    asked = context.body or {}
    if not asked.get("title"):
        raise invalid("Issue", "title", "missing_field")
    made = context.world.open_issue(
        repo.owner.login,
        repo.name,
        asked["title"],
        asked.get("body") or "",
        _caller(context),
    )
    shown = render.issue(repo, made)
    return Reply(201, shown, {"location": shown["url"]})


def update_issue(context: Context) -> Reply:
    repo, found = context.the_repo, _issue(context)
    _refuse_archived(repo)
    changes = context.body or {}
    found.title = changes.get("title", found.title)
    found.body = changes.get("body", found.body)
    if changes.get("state", found.state) != found.state:
        found.state = changes["state"]
        found.closed_at = context.world.now() if found.state == "closed" else None
    return Reply(200, render.issue(repo, found))


def list_comments(context: Context) -> Reply:
    repo, found = context.the_repo, _issue(context)
    everything = [render.comment(repo, each) for each in found.comments]
    shown, headers = paginate(context, everything)
    return Reply(200, shown, headers)


def create_comment(context: Context) -> Reply:
    repo, found = context.the_repo, _issue(context)
    _refuse_archived(repo)
    body = context.body["body"]
    made = context.world.comment(
        repo.owner.login, repo.name, found.number, body, _caller(context)
    )
    return Reply(
        201, render.comment(repo, made), {"location": render.comment(repo, made)["url"]}
    )


def update_comment(context: Context) -> Reply:
    repo, found = context.the_repo, _comment(context)
    _refuse_archived(repo)
    found.body = context.body["body"]
    found.updated_at = context.world.now()
    return Reply(200, render.comment(repo, found))


def react_to_comment(context: Context) -> Reply:
    return _react(context, _comment(context).reactions)


def react_to_issue(context: Context) -> Reply:
    return _react(context, _issue(context).reactions)


def _react(context: Context, reactions: list[Reaction]) -> Reply:
    world, content = context.world, context.body["content"]
    who = world.user(_caller(context))
    for each in reactions:
        # The same person's same reaction is answered, not added twice.
        if each.user is who and each.content == content:
            return Reply(200, render.reaction(each))
    made = Reaction(world.new_id(), who, content, world.now())
    reactions.append(made)
    return Reply(201, render.reaction(made))


def add_labels(context: Context) -> Reply:
    repo, found = context.the_repo, _issue(context)
    for name in _label_names(context.body):
        if name not in repo.labels:
            repo.labels[name] = Label(context.world.new_id(), name)
        if repo.labels[name] not in found.labels:
            found.labels.append(repo.labels[name])
    return Reply(200, [render.label(each) for each in found.labels])


def remove_label(context: Context) -> Reply:
    found = _issue(context)
    name = context.arguments["name"]
    kept = [each for each in found.labels if each.name != name]
    if len(kept) == len(found.labels):
        raise Refusal(404, "Label does not exist")
    found.labels = kept
    return Reply(200, [render.label(each) for each in kept])


def _label_names(body: object) -> list[str]:
    # GitHub takes a list of names, {"labels": [...]} of names or of {"name": ...}.
    items = body.get("labels", []) if isinstance(body, dict) else body
    if not isinstance(items, list) or not items:
        raise invalid("Label", "labels", "missing_field")
    return [each["name"] if isinstance(each, dict) else each for each in items]


def _issue(context: Context) -> Issue:
    found = context.the_repo.issues.get(context.number("issue_number"))
    if found is None:
        raise not_found()
    return found


def _comment(context: Context) -> Comment:
    found = context.world.find_comment(context.the_repo, context.number("comment_id"))
    if found is None:
        raise not_found()
    return found


def _caller(context: Context) -> str:
    # Every token here is an installation's, and it acts as the app's bot user.
    return context.world.bot.login


def _refuse_archived(repo: Repo) -> None:
    if repo.archived:
        raise Refusal(403, "Repository was archived so is read-only.")


ROUTES = [
    ("GET", "/repos/{owner}/{repo}/issues", list_issues),
    ("POST", "/repos/{owner}/{repo}/issues", create_issue),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}", get_issue),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}", update_issue),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", list_comments),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", create_comment),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", update_comment),
    (
        "POST",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
        react_to_comment,
    ),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/reactions", react_to_issue),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", add_labels),
    (
        "DELETE",
        "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
        remove_label,
    ),
]
