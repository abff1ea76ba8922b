"""The GitHub App's manifest (app.yml), filled in with the server's public URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# A symlink to the repository's app.yml, so that an installed package has it too.
MANIFEST_PATH = Path(__file__).with_name("app.yml")
PLACEHOLDER = "{public_url}"


class ManifestError(ValueError):
    """app.yml is missing or is not a manifest."""


def read_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """app.yml as written, placeholders and all."""
    try:
        manifest = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ManifestError(f"cannot read the app's manifest {path}: {error}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("name"), str):
        raise ManifestError(f"{path} is not a GitHub App manifest (no name)")
    return manifest


def filled_manifest(public_url: str, path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """The manifest to post to GitHub: every {public_url} replaced by `public_url`."""
    filled: dict[str, Any] = _filled(read_manifest(path), public_url.rstrip("/"))
    return filled


def _filled(value: Any, public_url: str) -> Any:
    if isinstance(value, str):
        return value.replace(PLACEHOLDER, public_url)
    if isinstance(value, dict):
        return {key: _filled(item, public_url) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, public_url) for item in value]
    return value
