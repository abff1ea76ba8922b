"""Finding scripts on disk, naming their W&B project, and rewriting them safely."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from injector.options import default_project

# Characters W&B refuses in a project name, and its length limit.
FORBIDDEN_PROJECT_CHARACTERS = frozenset("/\\#?%:")
MAX_PROJECT_LENGTH = 128

# Third-party code and tool state: never the user's training scripts.
SKIPPED_FOLDERS = frozenset(
    {"venv", ".venv", "site-packages", "node_modules", "__pycache__"}
)


class UnreadableError(Exception):
    """A script or folder that could not be read, and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
        self.path = path
        self.reason = reason


def find_python_files(path: Path) -> Iterator[Path | UnreadableError]:
    """`path` itself unless it is a folder, else every *.py below it, sorted.

    A folder that cannot be listed comes out as an error in its place, so the
    caller reports it and goes on with the rest.
    """
    if not path.is_dir():
        yield path
        return
    listing_errors: list[OSError] = []
    for root, folders, names in os.walk(path, onerror=listing_errors.append):
        yield from map(_unreadable, listing_errors)
        listing_errors.clear()
        root_path = Path(root)
        folders[:] = sorted(
            name for name in folders if not _is_skipped_folder(root_path / name)
        )
        yield from (root_path / name for name in sorted(names) if name.endswith(".py"))
    yield from map(_unreadable, listing_errors)


def _is_skipped_folder(folder: Path) -> bool:
    if folder.name.startswith(".") or folder.name in SKIPPED_FOLDERS:
        return True
    # A virtualenv can have any name; its pyvenv.cfg gives it away.
    return (folder / "pyvenv.cfg").is_file()


def read_script(path: Path) -> bytes:
    """The file's exact bytes."""
    if path.exists() and not path.is_file():
        # A pipe or a device could block forever or never end.
        raise UnreadableError(path, "not a regular file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise _unreadable(error, path) from error


def _unreadable(error: OSError, path: Path | None = None) -> UnreadableError:
    failed_path = path if path is not None else Path(error.filename)
    if isinstance(error, FileNotFoundError):
        return UnreadableError(failed_path, "no such file or folder")
    return UnreadableError(failed_path, error.strerror or str(error))


def project_name_for(script: Path) -> str:
    """The enclosing git repository's folder name, else the script's folder name."""
    # abspath, not resolve: a linked script belongs where the link is.
    absolute = Path(os.path.abspath(script))
    git_root = find_git_root(absolute.parent)
    if git_root is not None:
        # default_project names a path after its parent folder, here the root.
        return default_project(str(git_root / ".git"))
    return default_project(str(absolute))


def project_name_problem(name: str) -> str | None:
    """Why W&B would refuse `name` as a project, or None when it is fine."""
    if not name.strip():
        return "the project name is empty"
    if len(name) > MAX_PROJECT_LENGTH:
        return f"the project name is longer than {MAX_PROJECT_LENGTH} characters"
    forbidden = "".join(sorted(FORBIDDEN_PROJECT_CHARACTERS.intersection(name)))
    if forbidden:
        return f"{name!r} holds {forbidden!r}, which W&B does not allow in a project"
    return None


def find_git_root(folder: Path) -> Path | None:
    """The nearest folder at or above `folder` holding `.git` (a folder or a file)."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def write_atomically(path: Path, data: bytes) -> None:
    """Replace the file's content in one step, keeping its permission bits.

    A symlink is followed, so the link stays and its target is rewritten.
    """
    target = path.resolve()
    replace_file(target, data, stat.S_IMODE(target.stat().st_mode))


def replace_file(target: Path, data: bytes, mode: int | None = None) -> None:
    """Write `target` in one step: the bytes go to a temporary file beside it,
    synced, then os.replace swaps it in, so a crash or a full disk leaves the
    old file whole. The new file has `mode`, else 0600 from its first byte."""
    # mkstemp opens the file O_EXCL with mode 0600, whatever the umask.
    handle, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        if mode is not None:
            os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
