"""Walking a repository with os.scandir, pruning folders no training script lives in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import NamedTuple

from injector.locate.globs import Scope

# Tool state and installed packages: never descended, never reported.
SKIPPED_FOLDERS = frozenset(
    {"venv", ".venv", "site-packages", "node_modules", "__pycache__"}
)
# Folders whose files are ruled out; still read, to report training code in them.
RULED_OUT_FOLDERS = {
    "tests": "a test (tests/ folder)",
    "test": "a test (test/ folder)",
    "docs": "documentation (docs/ folder)",
    "third_party": "vendored third-party code (third_party/)",
    "vendor": "vendored third-party code (vendor/)",
    "external": "vendored third-party code (external/)",
}
# Deeper folders are left out: no project nests scripts this far, and walking
# further would exhaust Python's stack.
MAX_DEPTH = 64
CONFIG_NAMES = frozenset({"pyproject.toml", "setup.cfg"})
_SUFFIXES = (".py", ".ipynb")


class Found(NamedTuple):
    """A Python file or notebook in scope, and why it is ruled out, if it is."""

    path: str
    full: str
    rule: str | None
    is_notebook: bool = False


@dataclass
class Walk:
    files: list[Found] = field(default_factory=list)
    # pyproject.toml and setup.cfg files, for console-script entry points.
    configs: list[Found] = field(default_factory=list)
    # Folders left out by an exclude pattern, with the pattern.
    pruned: list[tuple[str, str]] = field(default_factory=list)


def walk(root: str, scope: Scope) -> Walk:
    """Every *.py and *.ipynb file under `root` (a resolved path) that is in scope."""
    found = Walk()
    _walk_folder(root, "", None, scope, found)
    return found


def _walk_folder(
    root: str, folder: str, rule: str | None, scope: Scope, found: Walk
) -> None:
    try:
        with os.scandir(os.path.join(root, folder)) as listing:
            entries = list(listing)
    except OSError:
        return
    # A virtualenv can have any name; its pyvenv.cfg gives it away.
    if folder and any(entry.name == "pyvenv.cfg" for entry in entries):
        return
    prefix = f"{folder}/" if folder else ""
    everything = not (scope.include or scope.exclude)
    # Most entries are plain Python files: the tests run cheapest first.
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            _enter_folder(root, entry, prefix + name, rule, scope, found)
        elif not (name.endswith(_SUFFIXES) or name in CONFIG_NAMES):
            continue
        elif entry.is_symlink():
            _take_linked_file(root, entry, prefix + name, rule, scope, found)
        elif not entry.is_file(follow_symlinks=False):
            continue
        elif everything and name.endswith(".py"):
            path = prefix + name
            found.files.append(Found(path, entry.path, rule or _file_rule(name)))
        else:
            _take_file(entry.path, name, prefix + name, rule, scope, found)


def _enter_folder(
    root: str,
    entry: os.DirEntry[str],
    path: str,
    rule: str | None,
    scope: Scope,
    found: Walk,
) -> None:
    if entry.name in SKIPPED_FOLDERS:
        return
    pattern = scope.excluded_by(path)
    if pattern is not None:
        found.pruned.append((f"{path}/", f"excluded by pattern {pattern!r}"))
    elif path.count("/") >= MAX_DEPTH:
        found.pruned.append((f"{path}/", f"nested deeper than {MAX_DEPTH} folders"))
    elif scope.may_include_below(path):
        rule = rule or RULED_OUT_FOLDERS.get(entry.name)
        _walk_folder(root, path, rule, scope, found)


def _take_linked_file(
    root: str,
    entry: os.DirEntry[str],
    path: str,
    rule: str | None,
    scope: Scope,
    found: Walk,
) -> None:
    """A symlink counts only as a file whose target stays inside the root."""
    target = os.path.realpath(entry.path)
    if target.startswith(root + os.sep) and os.path.isfile(target):
        _take_file(target, entry.name, path, rule, scope, found)


def _take_file(
    full: str, name: str, path: str, rule: str | None, scope: Scope, found: Walk
) -> None:
    if name in CONFIG_NAMES:
        if rule is None and scope.excluded_by(path) is None:
            found.configs.append(Found(path, full, None))
        return
    if not name.endswith(_SUFFIXES) or not scope.includes(path):
        return
    if scope.exclude:
        pattern = scope.excluded_by(path)
        if pattern is not None:
            rule = f"excluded by pattern {pattern!r}"
    notebook = name.endswith(".ipynb")
    found.files.append(Found(path, full, rule or _file_rule(name), notebook))


def _file_rule(name: str) -> str | None:
    if name.endswith(".py") and (
        name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
    ):
        return f"a test ({name})"
    if name == "setup.py":
        return "packaging, not training (setup.py)"
    return None


def listing_rule(path: str) -> str | None:
    """Why a path from a repository's file listing is no candidate, else None.

    The walk's folder and name rules, for a listing read before any checkout:
    hidden and tool folders, ruled-out folders, tests and packaging.
    """
    *folders, name = path.split("/")
    for folder in folders:
        if folder.startswith(".") or folder in SKIPPED_FOLDERS:
            return f"a tool or hidden folder ({folder}/)"
        if folder in RULED_OUT_FOLDERS:
            return RULED_OUT_FOLDERS[folder]
    if name.startswith("."):
        return f"a hidden file ({name})"
    return _file_rule(name)
