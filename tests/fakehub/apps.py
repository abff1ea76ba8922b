"""App endpoints (JWT) and the installation's own: installations and access tokens."""

from __future__ import annotations

import secrets
from typing import Any

from fakehub import render
from fakehub.calls import Context, Reply, invalid, not_found, paginate
from fakehub.state import TOKEN_PERMISSIONS, App, World

# Manifest codes are their own credential: the exchange takes no token.
UNAUTHENTICATED = {"/app-manifests/{code}/conversions"}
# The fixture's app, as it would have been registered.
FIXTURE_EVENTS = ["issue_comment", "issues", "installation", "pull_request"]


def get_app(context: Context) -> Reply:
    app = context.app or context.world.app
    body = {
        **_app_body(context.world, app),
        "installations_count": len(context.world.installations),
    }
    return Reply(200, body)


def convert_manifest(context: Context) -> Reply:
    """The credentials of the app a manifest created: given once, with its code."""
    app = context.world.convert_manifest(context.arguments["code"])
    if app is None:
        raise not_found()
    body = {
        **_app_body(context.world, app),
        "client_id": f"Iv23{app.id:016x}",
        "client_secret": secrets.token_hex(20),
        "webhook_secret": app.webhook_secret,
        "pem": app.private_key,
    }
    return Reply(201, body)


def _app_body(world: World, app: App) -> dict[str, Any]:
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": f"A_{app.id}",
        "name": app.name or app.slug,
        "owner": render.user(world.user(app.owner, app.owner_type)),
        "html_url": f"{render.WEB}/apps/{app.slug}",
        "external_url": app.hook_url or f"{render.WEB}/apps/{app.slug}",
        "permissions": app.permissions,
        "events": app.events or FIXTURE_EVENTS,
        "created_at": render.when(world.now()),
        "updated_at": render.when(world.now()),
    }


def list_installations(context: Context) -> Reply:
    world = context.world
    everything = [
        render.installation(world, each) for each in world.installations.values()
    ]
    shown, headers = paginate(context, everything)
    return Reply(200, shown, headers)


def get_installation(context: Context) -> Reply:
    found = context.world.installations.get(context.number("installation_id"))
    if found is None:
        raise not_found()
    return Reply(200, render.installation(context.world, found))


def create_access_token(context: Context) -> Reply:
    world = context.world
    found = world.installations.get(context.number("installation_id"))
    if found is None:
        raise not_found()
    asked = _asked_repositories(context, found.account.login)
    for full_name in asked or ():
        if full_name not in world.repos or not found.covers(full_name):
            raise invalid("Installation", "repositories", "invalid")
    token = world.issue_token(found, asked)
    body = {
        "token": token.value,
        "expires_at": render.when(token.expires_at),
        "permissions": TOKEN_PERMISSIONS,
        "repository_selection": "all" if found.repositories is None else "selected",
    }
    if asked is not None:
        body["repositories"] = [
            render.repo(world, world.repos[each]) for each in sorted(asked)
        ]
    return Reply(201, body)


def _asked_repositories(context: Context, account: str) -> set[str] | None:
    body = context.body or {}
    names = {f"{account}/{name}" for name in body.get("repositories", [])}
    by_id = {
        repo.full_name
        for repo in context.world.repos.values()
        if repo.id in body.get("repository_ids", [])
    }
    wanted = names | by_id
    if len(by_id) < len(body.get("repository_ids", [])):
        raise invalid("Installation", "repository_ids", "invalid")
    return wanted or None


def list_installation_repos(context: Context) -> Reply:
    world = context.world
    assert context.token is not None
    reachable = [
        repo for name, repo in world.repos.items() if context.token.covers(name)
    ]
    shown, headers = paginate(context, [render.repo(world, each) for each in reachable])
    installation = context.token.installation
    body = {
        "total_count": len(reachable),
        "repositories": shown,
        "repository_selection": "all"
        if installation.repositories is None
        else "selected",
    }
    return Reply(200, body, headers)


ROUTES = [
    ("GET", "/app", get_app),
    ("GET", "/app/installations", list_installations),
    ("GET", "/app/installations/{installation_id}", get_installation),
    ("POST", "/app/installations/{installation_id}/access_tokens", create_access_token),
    ("GET", "/installation/repositories", list_installation_repos),
    ("POST", "/app-manifests/{code}/conversions", convert_manifest),
]
