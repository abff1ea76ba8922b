"""Imports resolved to files under the root, and console-script entry points."""

from __future__ import annotations

import configparser
import posixpath
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from injector.locate.walk import Found

# Found by the keyword: a pattern with a literal start scans at memchr speed.
_IMPORT_KEYWORD = re.compile(rb"import\b")
_IMPORT_LINE = re.compile(rb"[ \t]*(?:from[ \t]+(\.|\w+)|import[ \t]+([\w., \t]+))")


class Modules:
    """The Python files under the root, found by module name as Python would."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.files = frozenset(paths)
        self.packages = frozenset(
            posixpath.dirname(p) for p in self.files if p.endswith("/__init__.py")
        )
        # Files import the same modules from the same folders again and again.
        self._found: dict[tuple[str, str], str | None] = {}

    def resolve(self, importer: str, module: str, level: int) -> str | None:
        """The file `module` names when imported from `importer`, if it is here."""
        if level:
            base = posixpath.dirname(importer)
            for _ in range(level - 1):
                base = posixpath.dirname(base)
            return self.find(base, module)
        for base in self._bases(importer):
            path = self.find(base, module)
            if path is not None:
                return path
        return None

    def find(self, base: str, module: str) -> str | None:
        key = (base, module)
        if key not in self._found:
            self._found[key] = self._find(base, module)
        return self._found[key]

    def _find(self, base: str, module: str) -> str | None:
        stem = posixpath.join(base, *module.split(".")) if module else base
        for candidate in (f"{stem}.py", posixpath.join(stem, "__init__.py")):
            path = posixpath.normpath(candidate)
            if path in self.files:
                return path
        return None

    def imports_local(self, importer: str, data: bytes) -> bool:
        """Whether the file imports a module under the root, read without parsing."""
        for keyword in _IMPORT_KEYWORD.finditer(data):
            line_start = data.rfind(b"\n", 0, keyword.start()) + 1
            line = _IMPORT_LINE.match(data, line_start)
            if line is None:
                continue
            if line[1] == b".":
                return True
            names = [line[1]] if line[1] else line[2].split(b",")
            for name in names:
                module = name.split()[0].split(b".")[0].decode() if name.split() else ""
                if module and self.resolve(importer, module, 0):
                    return True
        return False

    def submodule(self, package_file: str, name: str) -> str | None:
        """`package.name` as a module, when `package_file` is an __init__.py."""
        if not package_file.endswith("__init__.py"):
            return None
        return self.find(posixpath.dirname(package_file), name)

    def _bases(self, importer: str) -> list[str]:
        """Where absolute imports start: the script's own folder (as `python
        path/script.py` sets it), the folder above its top package (as `python -m`
        does from there), the root, and a src/ layout."""
        folder = posixpath.dirname(importer)
        top = folder
        while top and top in self.packages:
            top = posixpath.dirname(top)
        return list(dict.fromkeys((folder, top, "", "src")))


def console_scripts(configs: list[Found], modules: Modules) -> dict[str, str]:
    """Files that console scripts run, each with the reason naming the script."""
    scripts: dict[str, str] = {}
    for config in configs:
        folder = posixpath.dirname(config.path)
        for name, target in _declared_scripts(Path(config.full)):
            module = target.split(":", 1)[0].strip()
            for base in (folder, posixpath.join(folder, "src")):
                path = modules.find(base, module)
                if path is not None:
                    reason = f"console script {name!r} runs {target} ({config.path})"
                    scripts.setdefault(path, reason)
                    break
    return scripts


def _declared_scripts(config: Path) -> list[tuple[str, str]]:
    """(name, "module:function") pairs, read without importing or running anything."""
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if config.name == "setup.cfg":
        return _setup_cfg_scripts(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    project = data.get("project", {}).get("scripts", {})
    poetry = data.get("tool", {}).get("poetry", {}).get("scripts", {})
    return [
        (name, target)
        for table in (project, poetry)
        if isinstance(table, dict)
        for name, target in table.items()
        if isinstance(target, str)
    ]


def _setup_cfg_scripts(text: str) -> list[tuple[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    block = parser.get("options.entry_points", "console_scripts", fallback="")
    pairs = (line.split("=", 1) for line in block.splitlines() if "=" in line)
    return [(name.strip(), target.strip()) for name, target in pairs]
