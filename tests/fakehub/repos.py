"""Repository endpoints: the repository itself and a collaborator's permission."""

from __future__ import annotations

from fakehub import render
from fakehub.calls import Context, Reply, not_found
from fakehub.state import CLASSIC_PERMISSION


def get_repo(context: Context) -> Reply:
    return Reply(200, render.repo(context.world, context.the_repo))


def get_permission(context: Context) -> Reply:
    world, repo = context.world, context.the_repo
    login = context.arguments["username"].lower()
    who = next(
        (each for each in world.users.values() if each.login.lower() == login), None
    )
    # Logins match in any case; one GitHub has never seen is a 404.
    if who is None:
        raise not_found()
    role = world.permission(repo, who.login)
    body = {
        "permission": CLASSIC_PERMISSION[role],
        "role_name": role,
        "user": render.user(who),
    }
    return Reply(200, body)


ROUTES = [
    ("GET", "/repos/{owner}/{repo}", get_repo),
    (
        "GET",
        "/repos/{owner}/{repo}/collaborators/{username}/permission",
        get_permission,
    ),
]
