"""Modules parsed on demand, and the training loops an import reaches through them."""

from __future__ import annotations

import os
from functools import partial

from injector.locate.clues import is_training
from injector.locate.facts import Facts, Use, read_facts
from injector.locate.modules import Modules
from injector.locate.outline import ALL_NAMES, MAIN_UNIT, Binding

_READ_SIZE = 1 << 16


def read_bytes(full: str) -> bytes:
    """The file's bytes, with the fewest system calls: most files fit one read."""
    handle = os.open(full, os.O_RDONLY)
    try:
        data = os.read(handle, _READ_SIZE)
        if len(data) < _READ_SIZE:
            return data
        chunks = [data]
        while chunk := os.read(handle, _READ_SIZE * 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(handle)


class Project:
    """The files in scope, each parsed at most once and only when asked about."""

    def __init__(self, modules: Modules, full_paths: dict[str, str]) -> None:
        self.modules = modules
        self.full_paths = full_paths
        self.facts: dict[str, Facts] = {}
        # Files that could not be read or parsed, with the reason.
        self.broken: dict[str, str] = {}
        self.parsed = 0
        # Module -> the parsed files that import it.
        self.importers: dict[str, set[str]] = {}
        self._loops: dict[tuple[str, str], frozenset[str]] = {}

    def read(self, path: str, data: bytes | None = None) -> Facts | None:
        if path in self.facts or path in self.broken:
            return self.facts.get(path)
        try:
            data = read_bytes(self.full_paths[path]) if data is None else data
            self.parsed += 1
            self.facts[path] = read_facts(data, path, partial(self._is_local, path))
        except OSError as error:
            self.broken[path] = f"cannot be read: {error.strerror or error}"
        except SyntaxError as error:
            self.broken[path] = f"not valid Python: line {error.lineno}: {error.msg}"
        except (ValueError, RecursionError, MemoryError) as error:
            self.broken[path] = f"not valid Python: {type(error).__name__}"
        return self.facts.get(path)

    def _is_local(self, importer: str, binding: Binding) -> bool:
        """Whether `binding` names a module of the repository."""
        return self.modules.resolve(importer, binding.module, binding.level) is not None

    def loops_used_by(self, path: str) -> dict[str, Use | None]:
        """Other files holding the training loops `path` reaches through its
        imports, each with the first use that leads there (None: a star import)."""
        facts = self.facts[path]
        loops: dict[str, Use | None] = {}
        for uses in facts.uses.values():
            for use in sorted(uses, key=lambda u: u.line):
                binding = facts.bindings[use.binding]
                for loop in self._follow(path, binding, use.attribute):
                    loops.setdefault(loop, use)
        for binding in facts.bindings.values():
            if binding.name == ALL_NAMES:
                for loop in self._follow(path, binding, None):
                    loops.setdefault(loop, None)
        loops.pop(path, None)
        return loops

    def loops_behind(self, path: str, name: str) -> frozenset[str]:
        """Files with training clues that using `name` from `path` runs."""
        key = (path, name)
        if key not in self._loops:
            # An import cycle ends here, with nothing found on its second lap.
            self._loops[key] = frozenset()
            facts = self.read(path)
            if facts is not None:
                self._loops[key] = self._loops_in(path, facts, name)
        return self._loops[key]

    def _loops_in(self, path: str, facts: Facts, name: str) -> frozenset[str]:
        if name == ALL_NAMES:
            names = [unit for unit in facts.units if unit != MAIN_UNIT]
            return frozenset().union(*(self.loops_behind(path, n) for n in names))
        if name in facts.units and name != MAIN_UNIT:
            own = [clue for clue, _ in facts.clues_in(name)]
            found = {path} if is_training(own) else set()
            for use in facts.uses.get(name, []):
                found |= self._follow(path, facts.bindings[use.binding], use.attribute)
            return frozenset(found)
        if name in facts.bindings:
            # Re-exported, as a package's __init__.py does.
            return self._follow(path, facts.bindings[name], None)
        return frozenset()

    def _follow(
        self, importer: str, binding: Binding, attribute: str | None
    ) -> frozenset[str]:
        target = self.modules.resolve(importer, binding.module, binding.level)
        if target is None:
            return frozenset()
        if binding.name is not None:
            submodule = self.modules.submodule(target, binding.name)
            if submodule is None:
                self.importers.setdefault(target, set()).add(importer)
                return self.loops_behind(target, binding.name)
            target = submodule
        self.importers.setdefault(target, set()).add(importer)
        # A module passed around whole, or read deeper than one attribute, is
        # not followed: its use cannot be told from a single name.
        if attribute is None or self.modules.submodule(target, attribute):
            return frozenset()
        return self.loops_behind(target, attribute)
