"""Webhook deliveries for the app's tests, built from GitHub's published examples.

`@octokit/webhooks-examples` is a year older than the schemas githubkit checks,
so each payload gets the required fields it lacks from `@octokit/openapi-webhooks`
(`repaired`), and the tests can hold it to githubkit's parser.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from githubkit.webhooks import sign
from npm_material import webhook_examples, webhooks_description_path

SECRET = "it's a secret to everybody"
INSTALLATION = {"id": 4242, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg=="}


def comment_created(body: str, *, on_pull_request: bool = False) -> dict[str, Any]:
    """An `issue_comment` created by a person, saying `body`, with an installation."""
    payload = _example("issue_comment", "created")
    payload["comment"]["body"] = body
    payload["installation"] = dict(INSTALLATION)
    if on_pull_request:
        # None of the examples is on a pull request: GitHub sets these links then.
        url = payload["repository"]["url"] + f"/pulls/{payload['issue']['number']}"
        payload["issue"]["pull_request"] = {
            "url": url,
            "html_url": url.replace("api.github.com/repos", "github.com"),
            "diff_url": url + ".diff",
            "patch_url": url + ".patch",
            "merged_at": None,
        }
    return repaired(payload, "webhook-issue-comment-created")


def issue_labeled(label: str) -> dict[str, Any]:
    payload = _example("issues", "labeled")
    payload["label"]["name"] = label
    payload["installation"] = dict(INSTALLATION)
    # githubkit's models are newer than the schema package here: labels have
    # gained two required fields, null on a label in use.
    for item in [payload["label"], *payload["issue"]["labels"]]:
        item.update(archived_at=None, archived_by=None)
    return repaired(payload, "webhook-issues-labeled")


def issue_edited(body: str, before: str) -> dict[str, Any]:
    """An issue whose body someone changed from `before` to `body`."""
    payload = _example("issues", "edited")
    payload["issue"]["body"] = body
    payload["changes"] = {"body": {"from": before}}
    payload["installation"] = dict(INSTALLATION)
    for item in payload["issue"]["labels"]:
        item.update(archived_at=None, archived_by=None)
    return repaired(payload, "webhook-issues-edited")


def installation_created() -> dict[str, Any]:
    return repaired(_example("installation", "created"), "webhook-installation-created")


def installation_deleted() -> dict[str, Any]:
    return repaired(_example("installation", "deleted"), "webhook-installation-deleted")


def repositories_changed(action: str) -> dict[str, Any]:
    payload = _example("installation_repositories", action)
    return repaired(payload, f"webhook-installation-repositories-{action}")


def example(event: str, action: str | None) -> dict[str, Any]:
    """A fresh copy of the first example of `event` with that action."""
    return _example(event, action)


def signed_headers(
    body: bytes, event: str, delivery: str, secret: str = SECRET
) -> dict[str, str]:
    """The headers GitHub sends with a delivery, signed by githubkit's own code."""
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(secret, body),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def _example(event: str, action: str | None) -> dict[str, Any]:
    for payload in webhook_examples()[event]:
        if payload.get("action") == action:
            return copy.deepcopy(payload)
    raise LookupError(f"no {event} {action} example")


def repaired(payload: dict[str, Any], schema_name: str) -> dict[str, Any]:
    """`payload` with every required field the schema names filled, when missing."""
    _fill(payload, {"$ref": f"#/components/schemas/{schema_name}"})
    return payload


def _fill(value: Any, schema: dict[str, Any]) -> None:
    schema = _resolved(schema)
    for part in schema.get("allOf", []):
        _fill(value, part)
    if isinstance(value, dict):
        objects = [
            _resolved(option)
            for option in schema.get("anyOf", []) + schema.get("oneOf", [])
        ]
        for option in objects:
            if "properties" in option:
                _fill(value, option)
                break
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                value[name] = _blank(properties.get(name, {}))
        for name, item in value.items():
            if name in properties:
                _fill(item, properties[name])
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            _fill(item, schema["items"])


def _blank(schema: dict[str, Any]) -> Any:
    """The plainest value `schema` accepts: null where it may, else empty."""
    schema = _resolved(schema)
    options = [_resolved(option) for option in schema.get("anyOf", [])]
    options += [_resolved(option) for option in schema.get("oneOf", [])]
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    if (
        schema.get("nullable")
        or "null" in types
        or any(option.get("type") == "null" for option in options)
    ):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    if options:
        return _blank(options[0])
    if "object" in types or "properties" in schema or "allOf" in schema:
        value: dict[str, Any] = {}
        _fill(value, schema)
        return value
    blanks = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}
    return blanks.get(types[0]) if types else None


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = _schemas()[name]
    return schema


@cache
def _schemas() -> dict[str, Any]:
    description = json.loads(webhooks_description_path().read_text())
    schemas: dict[str, Any] = description["components"]["schemas"]
    return schemas
