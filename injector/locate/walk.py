"""Walking a repository with os.scandir, pruning folders no training script lives in."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

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
_TEST_NAME = re.compile(r"test_.*\.py|.*_test\.py|conftest\.py")
CONFIG_NAMES = frozenset({"pyproject.toml", "setup.cfg"})


@dataclass(frozen=True)
class Found:
    """A Python file or notebook in scope, and why it is ruled out, if it is."""

    path: str
    full: str
    rule: str | None

    @property
    def is_notebook(self) -> bool:
        return self.path.endswith(".ipynb")


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
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = f"{folder}/{entry.name}" if folder else entry.name
        if entry.is_symlink():
            _take_linked_file(root, entry, path, rule, scope, found)
        elif entry.is_dir(follow_symlinks=False):
            _enter_folder(root, entry, path, rule, scope, found)
        elif entry.is_file(follow_symlinks=False):
            _take_file(entry.path, entry.name, path, rule, scope, found)


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
    if not name.endswith((".py", ".ipynb")) or not scope.includes(path):
        return
    pattern = scope.excluded_by(path)
    if pattern is not None:
        rule = f"excluded by pattern {pattern!r}"
    found.files.append(Found(path, full, rule or _file_rule(name)))


def _file_rule(name: str) -> str | None:
    if _TEST_NAME.fullmatch(name):
        return f"a test ({name})"
    if name == "setup.py":
        return "packaging, not training (setup.py)"
    return None
