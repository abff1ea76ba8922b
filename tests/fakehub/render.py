"""The fake's objects as GitHub's JSON: the fields that carry meaning.

The server fills in the rest of what the description requires (`schema.shape`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fakehub.state import (
    Comment,
    Installation,
    Issue,
    Label,
    Reaction,
    Repo,
    User,
    World,
)

API = "https://api.github.com"
WEB = "https://github.com"


def when(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def user(who: User) -> dict[str, Any]:
    return {
        "login": who.login,
        "id": who.id,
        "node_id": f"U_{who.id}",
        "type": who.type,
        "site_admin": False,
        "url": f"{API}/users/{who.login}",
        "html_url": f"{WEB}/{who.login}",
    }


def repo(world: World, found: Repo) -> dict[str, Any]:
    return {
        "id": found.id,
        "node_id": f"R_{found.id}",
        "name": found.name,
        "full_name": found.full_name,
        "owner": user(found.owner),
        "private": found.private,
        "visibility": "private" if found.private else "public",
        "archived": found.archived,
        "disabled": False,
        "fork": found.fork,
        "topics": found.topics,
        "default_branch": found.default_branch,
        "url": f"{API}/repos/{found.full_name}",
        "html_url": f"{WEB}/{found.full_name}",
        # The bot clones from here, as it would from github.com.
        "clone_url": clone_url(world, found),
        "git_url": f"git://github.com/{found.full_name}.git",
        "ssh_url": f"git@github.com:{found.full_name}.git",
        "svn_url": f"{WEB}/{found.full_name}",
    }


def clone_url(world: World, found: Repo) -> str:
    return f"{world.git_url.rstrip('/')}/{found.full_name}.git"


def installation(world: World, found: Installation) -> dict[str, Any]:
    account = found.account
    return {
        "id": found.id,
        "account": user(account),
        "app_id": world.app.id,
        "app_slug": world.app.slug,
        "target_id": account.id,
        "target_type": account.type,
        "repository_selection": "all" if found.repositories is None else "selected",
        "permissions": {
            "contents": "write",
            "issues": "write",
            "metadata": "read",
            "pull_requests": "write",
        },
        "events": ["issue_comment", "issues", "installation", "pull_request"],
        "access_tokens_url": f"{API}/app/installations/{found.id}/access_tokens",
        "repositories_url": f"{API}/installation/repositories",
        "html_url": f"{WEB}/settings/installations/{found.id}",
        "created_at": when(world.now()),
        "updated_at": when(world.now()),
    }


def label(found: Label) -> dict[str, Any]:
    return {
        "id": found.id,
        "node_id": f"L_{found.id}",
        "name": found.name,
        "color": found.color,
        "default": False,
        "description": None,
    }


def reaction(found: Reaction) -> dict[str, Any]:
    return {
        "id": found.id,
        "node_id": f"RE_{found.id}",
        "user": user(found.user),
        "content": found.content,
        "created_at": when(found.created_at),
    }


def comment(found_repo: Repo, found: Comment) -> dict[str, Any]:
    base = f"{API}/repos/{found_repo.full_name}"
    page = f"{WEB}/{found_repo.full_name}/issues/{found.number}"
    return {
        "id": found.id,
        "node_id": f"IC_{found.id}",
        "body": found.body,
        "user": user(found.user),
        "url": f"{base}/issues/comments/{found.id}",
        "html_url": f"{page}#issuecomment-{found.id}",
        "issue_url": f"{base}/issues/{found.number}",
        "author_association": "NONE",
        "created_at": when(found.created_at),
        "updated_at": when(found.updated_at),
    }


def issue(found_repo: Repo, found: Issue) -> dict[str, Any]:
    kind = "pull" if found.pull else "issues"
    body = {
        "id": found.id,
        "node_id": f"I_{found.id}",
        "number": found.number,
        "title": found.title,
        "body": found.body,
        "user": user(found.user),
        "state": found.state,
        "locked": False,
        "labels": [label(each) for each in found.labels],
        "comments": len(found.comments),
        "url": f"{API}/repos/{found_repo.full_name}/issues/{found.number}",
        "html_url": f"{WEB}/{found_repo.full_name}/{kind}/{found.number}",
        "author_association": "NONE",
        "created_at": when(found.created_at),
        "updated_at": when(found.created_at),
        "closed_at": when(found.closed_at),
    }
    if found.pull:
        pull_url = f"{API}/repos/{found_repo.full_name}/pulls/{found.number}"
        body["pull_request"] = {
            "url": pull_url,
            "html_url": body["html_url"],
            "diff_url": body["html_url"] + ".diff",
            "patch_url": body["html_url"] + ".patch",
        }
    return body


def pull(world: World, found_repo: Repo, found: Issue) -> dict[str, Any]:
    assert found.pull is not None
    details = found.pull
    head_sha = found_repo.branch_sha(details.head) or details.head_sha
    base_sha = found_repo.branch_sha(details.base) or ""
    body = issue(found_repo, found)
    del body["pull_request"], body["comments"]
    return {
        **body,
        "url": f"{API}/repos/{found_repo.full_name}/pulls/{found.number}",
        "node_id": f"PR_{found.id}",
        "head": _end(world, found_repo, details.head, head_sha),
        "base": _end(world, found_repo, details.base, base_sha),
        "merged": details.merged,
        "merged_at": when(details.merged_at),
        "draft": details.draft,
        "diff_url": body["html_url"] + ".diff",
        "patch_url": body["html_url"] + ".patch",
    }


def pull_simple(world: World, found_repo: Repo, found: Issue) -> dict[str, Any]:
    """A pull request as lists give it: without the merge state only a read has."""
    body = pull(world, found_repo, found)
    del body["merged"]
    return body


def _end(world: World, found_repo: Repo, branch: str, sha: str) -> dict[str, Any]:
    return {
        "label": f"{found_repo.owner.login}:{branch}",
        "ref": branch,
        "sha": sha,
        "user": user(found_repo.owner),
        "repo": repo(world, found_repo),
    }
