"""The registration mode's HTML pages: small, self-contained, no script."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from starlette.responses import HTMLResponse

# No script, no outside resources; forms may only go to GitHub and back here.
# GitHub's source ends in / so that it covers every path under it.
_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;"
    "padding:0 1em}code{background:#f3f3f3;padding:0 .2em}"
    "button{font:inherit;padding:.4em 1em}"
)


def page(title: str, body: str, status: int = 200, github: str = "") -> HTMLResponse:
    """A page with `body` (already HTML); nothing on it is cached or framed."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    policy = f"{_POLICY} {github.rstrip('/')}/" if github else _POLICY
    headers = {
        "cache-control": "no-store",
        "content-security-policy": policy,
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
    }
    return HTMLResponse(html, status, headers)


def start_page(action: str, manifest: dict[str, Any], org: str | None) -> str:
    """The button that posts the manifest to GitHub, and where the app will live."""
    owner = f"the organization <code>{escape(org)}</code>" if org else "your account"
    hook = manifest.get("hook_attributes", {}).get("url", "")
    return (
        f"<p>This server has no GitHub App yet. The button below asks GitHub to "
        f"create <code>{escape(manifest['name'])}</code> under {owner}, sending "
        f"its webhooks to <code>{escape(hook)}</code>. GitHub then sends you "
        "back here and the server starts at once.</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="manifest" value="{escape(json.dumps(manifest))}">'
        '<button type="submit" id="register">Create the GitHub App</button></form>'
        '<form method="get" action="register"><p>Register it under an organization '
        'instead: <input name="org" aria-label="organization" '
        f'value="{escape(org or "")}"> <button type="submit">Use it</button>'
        "</p></form>"
    )


def done_page(slug: str, app_id: int, install_url: str, running: bool) -> str:
    next_step = (
        "It is serving webhooks now."
        if running
        else "Restart <code>wandb-inject serve</code> to start serving webhooks."
    )
    return (
        f"<p>GitHub created the app <code>{escape(slug)}</code> (id {app_id}). "
        f"Its credentials are stored on this server. {next_step}</p>"
        f'<p><a id="install" href="{escape(install_url)}">Install it</a> on the '
        "repositories it should work on.</p>"
    )


def problem_page(title: str, reason: str, status: int) -> HTMLResponse:
    body = (
        f"<p>{escape(reason)}</p>"
        '<p><a href="/register">Start the registration again</a>.</p>'
    )
    return page(title, body, status)
