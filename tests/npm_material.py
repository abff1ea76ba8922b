"""GitHub's REST description and webhook examples, installed from npm on first use.

The packages are large (the REST description alone is 385 MB unpacked), so they
live in a cache outside the checkout, shared by every clone and CI run on the
machine, and are never committed.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from support import require_tool

PACKAGES = {
    "@octokit/openapi": "23.0.2",
    "@octokit/openapi-webhooks": "12.1.0",
    "@octokit/webhooks-examples": "7.6.1",
}
CACHE_VARIABLE = "WANDB_INJECT_NPM_CACHE"
HOW = "Node.js and npm (https://nodejs.org); the tests fetch GitHub's API description"


def cache_folder() -> Path:
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "wandb-inject" / "npm"


def node_modules() -> Path:
    """The installed packages' folder; installs them first when any is missing.

    A test skips (fails under strict skips) when npm is not on the machine.
    """
    folder = cache_folder()
    if not _installed(folder):
        npm = require_tool("npm", HOW)
        folder.mkdir(parents=True, exist_ok=True)
        # Parallel test processes must not install into the same folder at once.
        with open(folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _installed(folder):
                _install(npm, folder)
    return folder / "node_modules"


def _installed(folder: Path) -> bool:
    for name, version in PACKAGES.items():
        manifest = folder / "node_modules" / name / "package.json"
        try:
            if json.loads(manifest.read_text())["version"] != version:
                return False
        except (OSError, ValueError, KeyError):
            return False
    return True


def _install(npm: str, folder: Path) -> None:
    specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
    command = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder)]
    result = subprocess.run(
        [*command, *specs], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"npm install of {specs} failed:\n{result.stderr[-2000:]}")


def rest_description_path() -> Path:
    """GitHub's REST API description (api.github.com), as OpenAPI 3."""
    return node_modules() / "@octokit/openapi/generated/api.github.com.json"


def webhooks_description_path() -> Path:
    """The webhook payload schemas, used to repair the examples' missing fields."""
    return node_modules() / "@octokit/openapi-webhooks/generated/api.github.com.json"


@cache
def webhook_examples() -> dict[str, list[dict[str, Any]]]:
    """Example payloads by event name (`issue_comment`, `issues`, ...)."""
    index = node_modules() / "@octokit/webhooks-examples/api.github.com/index.json"
    events = json.loads(index.read_text())
    return {event["name"]: event["examples"] for event in events}
