"""A stand-in for GitHub's web pages of the manifest flow (not GitHub's real HTML).

GitHub's REST description does not cover these pages, so they are checked here
by hand: the manifest must parse and name what GitHub requires, or the test
fails. Served under the site's WEB_PREFIX, as github.com is apart from its API.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from fakehub.server import FakeGitHub

# The signed-in user who creates a personal app.
SIGNED_IN = "octocat"
MANIFEST_KEYS = {
    "name",
    "url",
    "hook_attributes",
    "redirect_url",
    "callback_urls",
    "setup_url",
    "description",
    "public",
    "default_events",
    "default_permissions",
    "request_oauth_on_install",
    "setup_on_update",
}
ACCESS = {"read", "write", "admin"}
# The permission each event needs, for the events the bot could ask for; every
# app gets installation events, so a manifest cannot subscribe to them.
EVENT_PERMISSIONS = {
    "issues": {"issues"},
    "issue_comment": {"issues", "pull_requests"},
    "pull_request": {"pull_requests"},
    "push": {"contents"},
    "check_run": {"checks"},
    "check_suite": {"checks"},
}


def web_app(api: FakeGitHub) -> Starlette:
    """The pages, creating apps in the world `api` serves."""
    pages = _Pages(api)
    return Starlette(
        routes=[
            Route("/settings/apps/new", pages.review, methods=["POST"]),
            Route(
                "/organizations/{org}/settings/apps/new", pages.review, methods=["POST"]
            ),
            Route("/settings/apps/new/create", pages.create, methods=["POST"]),
            Route(
                "/organizations/{org}/settings/apps/new/create",
                pages.create,
                methods=["POST"],
            ),
        ]
    )


class _Pages:
    def __init__(self, api: FakeGitHub) -> None:
        self.api = api

    async def review(self, request: Request) -> Response:
        """GitHub's page that shows the app and asks to create it."""
        form = await _form(request)
        text = form.get("manifest", "")
        problems = manifest_problems(text)
        if problems:
            self.api.violations.append(f"manifest GitHub would refuse: {problems}")
            return _page("Invalid manifest", "<br>".join(map(escape, problems)), 422)
        manifest = json.loads(text)
        org = request.path_params.get("org", "")
        owner = escape(org or SIGNED_IN)
        hidden = {"manifest": text, "state": request.query_params.get("state", "")}
        fields = "".join(
            f'<input type="hidden" name="{name}" value="{escape(value)}">'
            for name, value in hidden.items()
        )
        body = (
            f"<p>Create GitHub App <b>{escape(manifest['name'])}</b> for {owner}</p>"
            # Relative: the same page's /create, personal or the organization's.
            '<form method="post" action="new/create">'
            f'{fields}<button type="submit" id="create">Create GitHub App for '
            f"{owner}</button></form>"
        )
        return _page("Create GitHub App", body)

    async def create(self, request: Request) -> Response:
        """Create the app, then send the browser to its redirect_url with a code."""
        form = await _form(request)
        text = form.get("manifest", "")
        if manifest_problems(text):
            return _page("Invalid manifest", "the manifest changed", 422)
        manifest = json.loads(text)
        org = request.path_params.get("org", "")
        owner, kind = (org, "Organization") if org else (SIGNED_IN, "User")
        code = self.api.world.register_app(manifest, owner, kind)
        query = {"code": code}
        if form.get("state"):
            query["state"] = form["state"]
        target = manifest["redirect_url"]
        joiner = "&" if urlsplit(target).query else "?"
        return RedirectResponse(f"{target}{joiner}{urlencode(query)}", 302)


async def _form(request: Request) -> dict[str, str]:
    # A browser's form post; starlette's own parser needs python-multipart.
    body = (await request.body()).decode()
    return dict(parse_qsl(body, keep_blank_values=True))


def manifest_problems(text: str) -> list[str]:
    """Why GitHub would refuse this manifest; empty when it would take it."""
    try:
        manifest = json.loads(text)
    except ValueError:
        return ["the manifest is not JSON"]
    if not isinstance(manifest, dict):
        return ["the manifest is not a JSON object"]
    problems = [f"unknown key {key!r}" for key in manifest.keys() - MANIFEST_KEYS]
    if not isinstance(manifest.get("name"), str) or not manifest["name"].strip():
        problems.append("name is required")
    hook = manifest.get("hook_attributes")
    for label, value in [
        ("url", manifest.get("url")),
        ("hook_attributes.url", hook.get("url") if isinstance(hook, dict) else None),
        ("redirect_url", manifest.get("redirect_url")),
    ]:
        if not _is_web_url(value):
            problems.append(f"{label} must be an http(s) URL, not {value!r}")
    if "public" in manifest and not isinstance(manifest["public"], bool):
        problems.append("public must be true or false")
    return problems + _grant_problems(manifest)


def _grant_problems(manifest: dict[str, Any]) -> list[str]:
    permissions = manifest.get("default_permissions", {})
    events = manifest.get("default_events", [])
    if not isinstance(permissions, dict) or not isinstance(events, list):
        return ["default_permissions must be an object, default_events a list"]
    problems = [
        f"permission {name}: {access!r} is not read, write or admin"
        for name, access in permissions.items()
        if access not in ACCESS
    ]
    for event in events:
        needs = EVENT_PERMISSIONS.get(event)
        if needs is None:
            problems.append(f"event {event!r} cannot be subscribed to here")
        elif not needs & permissions.keys():
            problems.append(f"event {event!r} needs one of {sorted(needs)}")
    return problems


def _is_web_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        # The icon link keeps a browser from asking the API for /favicon.ico.
        f'<!doctype html><title>{escape(title)}</title><link rel="icon" href="data:,">'
        "<p><i>Test stand-in for GitHub's app registration page.</i></p>"
        f"<h1>{escape(title)}</h1>{body}"
    )
    return HTMLResponse(html, status)
