"""User endpoints: a user or a bot account, looked up by login."""

from __future__ import annotations

from fakehub import render
from fakehub.calls import Context, Reply, not_found


def get_user(context: Context) -> Reply:
    login = context.arguments["username"].lower()
    for who in context.world.users.values():
        if who.login.lower() == login:
            # GitHub shows a stranger's account as public: the app is one.
            return Reply(200, {**render.user(who), "user_view_type": "public"})
    raise not_found()


ROUTES = [("GET", "/users/{username}", get_user)]
