"""app.yml against the code: the events it handles, the permissions it uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fakehub.web import manifest_problems

from bot.manifest import (
    MANIFEST_PATH,
    PLACEHOLDER,
    ManifestError,
    filled_manifest,
    read_manifest,
)
from bot.webhooks import handled_events

ROOT = Path(__file__).parents[2]
# GitHub sends these to every app; a manifest does not list them.
SENT_TO_EVERY_APP = {"installation", "installation_repositories"}
# What bot/ does: clone and push, pull requests, issue comments, reactions and
# labels, repository details.
PERMISSIONS = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "metadata": "read",
}
PUBLIC_URL = "https://bot.example.com"


def test_the_package_reads_the_repository_app_yml() -> None:
    assert MANIFEST_PATH.resolve() == (ROOT / "app.yml").resolve()
    assert (ROOT / "app.yml").is_file() and not (ROOT / "app.yml").is_symlink()


def test_events_are_those_the_webhook_handles() -> None:
    manifest = read_manifest()

    events = set(manifest["default_events"])

    assert handled_events() >= SENT_TO_EVERY_APP
    assert events == handled_events() - SENT_TO_EVERY_APP
    assert len(events) == len(manifest["default_events"])


def test_permissions_are_exactly_what_the_bot_uses() -> None:
    permissions = read_manifest()["default_permissions"]

    assert permissions == PERMISSIONS
    assert "workflows" not in permissions and "administration" not in permissions


def test_the_app_is_private_and_every_url_points_at_the_public_one() -> None:
    manifest = filled_manifest(PUBLIC_URL + "/")

    assert manifest["public"] is False
    assert manifest["hook_attributes"] == {
        "url": f"{PUBLIC_URL}/webhook",
        "active": True,
    }
    assert manifest["redirect_url"] == f"{PUBLIC_URL}/register/callback"
    assert PLACEHOLDER not in json.dumps(manifest)
    assert read_manifest()["name"] == manifest["name"] == "wandb-inject"


def test_github_would_take_the_manifest() -> None:
    assert manifest_problems(json.dumps(filled_manifest(PUBLIC_URL))) == []


@pytest.mark.parametrize(
    ("removed", "added", "says"),
    [
        pytest.param("redirect_url", {}, "redirect_url must be", id="no-redirect"),
        pytest.param("name", {}, "name is required", id="no-name"),
        pytest.param("", {"hook": 1}, "unknown key 'hook'", id="unknown-key"),
        pytest.param(
            "", {"url": "ftp://x"}, "url must be an http(s) URL", id="not-http"
        ),
        pytest.param(
            "",
            {"default_events": ["installation"]},
            "'installation' cannot be subscribed",
            id="installation-event",
        ),
        pytest.param(
            "default_permissions", {}, "needs one of ['issues']", id="no-permission"
        ),
    ],
)
def test_the_fake_refuses_a_manifest_github_would(
    removed: str, added: dict[str, object], says: str
) -> None:
    manifest = filled_manifest(PUBLIC_URL) | added
    manifest.pop(removed, None)

    problems = manifest_problems(json.dumps(manifest))

    assert any(says in problem for problem in problems), problems


def test_a_file_that_is_not_a_manifest_says_so(tmp_path: Path) -> None:
    (tmp_path / "app.yml").write_text("- just\n- a list\n")

    with pytest.raises(ManifestError, match=re.escape("is not a GitHub App manifest")):
        read_manifest(tmp_path / "app.yml")
