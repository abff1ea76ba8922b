"""The per-repository settings in `.github/wandb-inject.yml`, read and checked."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.files import project_name_problem

CONFIG_PATH = ".github/wandb-inject.yml"
# Far above any real settings file; a bigger one is a mistake or an attack.
MAX_CONFIG_BYTES = 64 * 1024
# What a problem quotes of the file, so that the status comment stays short.
MAX_QUOTED = 60
MAX_UNKNOWN_LISTED = 5


@dataclass(frozen=True)
class RepoConfig:
    """What the repository asks for; None and empty mean "use the default"."""

    project: str | None = None
    entity: str | None = None
    paths: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    log_every: int | None = None
    enabled: bool = True


class RepoConfigError(Exception):
    """The settings file is unreadable or breaks the schema; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def load_repo_config(root: Path) -> RepoConfig:
    """The settings of the repository checked out at `root` (defaults without a file).

    Every problem in the file is reported at once, each naming the key and what
    was expected, so one fix-up commit can correct them all.
    """
    return _checked(_load_yaml(root / CONFIG_PATH))


def parse_repo_config(data: bytes) -> RepoConfig:
    """The settings in a settings file's bytes, read through the API; as above."""
    if len(data) > MAX_CONFIG_BYTES:
        raise _error(f"is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    return _checked(_parse_yaml(data))


def _checked(document: object) -> RepoConfig:
    if document is None:
        return RepoConfig()
    if not isinstance(document, dict):
        raise _error(f"must be a mapping of settings, not {_kind(document)}")
    unknown = [key for key in document if key not in _CHECKS]
    problems = [_unknown_keys(unknown)] if unknown else []
    settings: dict[str, Any] = {}
    for key, check in _CHECKS.items():
        if key not in document:
            continue
        value, problem = check(document[key])
        if problem:
            problems.append(f"{CONFIG_PATH}: {key}: {problem}")
        else:
            settings[key] = value
    if problems:
        raise RepoConfigError(problems)
    return RepoConfig(**settings)


def _unknown_keys(keys: list[object]) -> str:
    listed = ", ".join(_quoted(key) for key in keys[:MAX_UNKNOWN_LISTED])
    if len(keys) > MAX_UNKNOWN_LISTED:
        listed += f" and {len(keys) - MAX_UNKNOWN_LISTED} more"
    noun = "key" if len(keys) == 1 else "keys"
    return f"{CONFIG_PATH}: unknown {noun} {listed} (known: {', '.join(_CHECKS)})"


def _quoted(value: object) -> str:
    """The value as Python writes it, cut short past MAX_QUOTED characters."""
    text = repr(value)
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 3] + "..."


def _load_yaml(path: Path) -> object:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _error(f"cannot read: {error.strerror or error}") from error
    # A link could point outside the repository, at a file that is not ours to read.
    if not stat.S_ISREG(mode):
        raise _error("must be a regular file, not a link or a folder")
    data = path.read_bytes()
    if len(data) > MAX_CONFIG_BYTES:
        raise _error(f"is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    return _parse_yaml(data)


def _parse_yaml(data: bytes) -> object:
    try:
        return yaml.safe_load(data)
    except yaml.MarkedYAMLError as error:
        where = f" on line {error.problem_mark.line + 1}" if error.problem_mark else ""
        raise _error(f"is not valid YAML{where}: {error.problem}") from error
    except yaml.YAMLError as error:
        raise _error(f"is not valid YAML: {error}") from error
    except RecursionError as error:
        raise _error("is nested too deeply to read") from error


def _error(problem: str) -> RepoConfigError:
    return RepoConfigError([f"{CONFIG_PATH} {problem}"])


def _kind(value: object) -> str:
    if isinstance(value, str) and not value.strip():
        return "an empty string"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a mapping", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


Checked = tuple[Any, str | None]


def _project(value: object) -> Checked:
    if not isinstance(value, str):
        return None, f"expected a W&B project name, not {_kind(value)}"
    name = value.strip()
    return name, project_name_problem(name)


def _entity(value: object) -> Checked:
    expected = "expected a W&B team or user name"
    if not isinstance(value, str) or not value.strip():
        return None, f"{expected}, not {_kind(value)}"
    name = value.strip()
    if any(character.isspace() or character == "/" for character in name):
        return None, f"{expected}, not {_quoted(name)}"
    return name, None


def _globs(value: object) -> Checked:
    expected = 'expected a list of glob patterns such as ["src/**/*.py"]'
    if not isinstance(value, list):
        return None, f"{expected}, not {_kind(value)}"
    for pattern in value:
        if not isinstance(pattern, str) or not pattern.strip():
            return None, f"{expected}; one entry is {_kind(pattern)}"
        if pattern.startswith("/"):
            return (
                None,
                f"{_quoted(pattern)}: patterns are relative to the repository root",
            )
    return tuple(value), None


def _log_every(value: object) -> Checked:
    # YAML's true and false load as bool, which Python counts as an int.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None, f"expected a whole number of steps >= 1, not {_quoted(value)}"
    return value, None


def _enabled(value: object) -> Checked:
    if not isinstance(value, bool):
        return None, f"expected true or false, not {_quoted(value)}"
    return value, None


_CHECKS: dict[str, Callable[[object], Checked]] = {
    "project": _project,
    "entity": _entity,
    "paths": _globs,
    "exclude": _globs,
    "log_every": _log_every,
    "enabled": _enabled,
}
