"""The files a scan checks out, chosen from the repository's listing by path alone."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.repo_config import CONFIG_PATH, RepoConfig
from injector.locate.globs import Scope
from injector.locate.walk import CONFIG_NAMES, listing_rule

SCRIPT_SUFFIXES = (".py", ".ipynb")
LINK_MODE = "120000"
# Characters that mean something in a sparse-checkout pattern, and a leading `!`.
_SPECIAL = re.compile(r"([\\*?\[\]!#])")


@dataclass(frozen=True)
class Entry:
    """One file of a repository's tree listing."""

    path: str
    mode: str
    kind: str
    sha: str = ""


@dataclass(frozen=True)
class Candidates:
    """Scripts the locator may pick, and the files it reads beside them."""

    scripts: tuple[str, ...]
    configs: tuple[str, ...]

    def patterns(self) -> list[str]:
        """Sparse-checkout patterns naming exactly these files."""
        named = [*self.scripts, *self.configs, CONFIG_PATH]
        return [_pattern(path) for path in dict.fromkeys(named)]


def find_candidates(entries: Iterable[Entry], config: RepoConfig) -> Candidates:
    """The listing's scripts and project files that pass the locator's path rules.

    Links are left out: a listing cannot tell where they lead.
    """
    files = [e for e in entries if e.kind == "blob" and e.mode != LINK_MODE]
    venvs = {posixpath.dirname(e.path) for e in files if e.path.endswith("pyvenv.cfg")}
    scope = Scope.parse(config.paths, config.exclude)
    scripts, configs = [], []
    for entry in files:
        path = entry.path
        if "\n" in path or _inside(path, venvs) or listing_rule(path) is not None:
            continue
        if scope.excluded_by(path) is not None:
            continue
        if posixpath.basename(path) in CONFIG_NAMES:
            configs.append(path)
        elif path.endswith(SCRIPT_SUFFIXES) and scope.includes(path):
            scripts.append(path)
    return Candidates(tuple(scripts), tuple(configs))


def _inside(path: str, folders: set[str]) -> bool:
    return any(folder and path.startswith(folder + "/") for folder in folders)


def _pattern(path: str) -> str:
    escaped = _SPECIAL.sub(r"\\\1", path)
    # A trailing space would be dropped from the pattern unless escaped.
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return "/" + escaped
