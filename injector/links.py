"""The names an entry point imports from the modules its training loops live in."""

from __future__ import annotations

from pathlib import PurePosixPath

import libcst as cst

from injector._matchers import dotted, small_statements
from injector.script import Script, imported_names


def linked_names(script: Script, path: str, links: tuple[str, ...]) -> set[str]:
    """Names bound by `from <module> import ...` at the top of the script, where the
    module is one of `links` (paths relative to the same root as `path`)."""
    names: set[str] = set()
    for stmt in script.in_scope(script.module_scope):
        for small in small_statements(stmt.node):
            if not isinstance(small, cst.ImportFrom) or isinstance(
                small.names, cst.ImportStar
            ):
                continue
            if any(_is_module(small, path, link) for link in links):
                names.update(imported_names(small))
    return names


def _is_module(statement: cst.ImportFrom, path: str, link: str) -> bool:
    """Whether `from X import ...` in the file at `path` reads the file `link`."""
    module = PurePosixPath(link)
    if module.suffix != ".py":
        return False
    parts = module.with_suffix("").parts
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    imported = (dotted(statement.module) or "").split(".") if statement.module else []
    imported = [part for part in imported if part]
    dots = len(statement.relative)
    if dots:
        # Relative: counted from the importing file's own package folder.
        base = PurePosixPath(path).parent.parts
        if dots - 1 > len(base):
            return False
        base = base[: len(base) - (dots - 1)]
        return tuple(parts) == (*base, *imported)
    # Absolute: the import path may start at the root or at a source folder
    # below it (`src/`, or the folder the entry point is run from).
    return bool(imported) and tuple(parts[-len(imported) :]) == tuple(imported)
