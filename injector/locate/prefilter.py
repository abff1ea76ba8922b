"""Reading a file and testing its bytes for the locator's markers in one step."""

from __future__ import annotations

from collections.abc import Callable

from injector.locate.clues import MAIN_MARKER, PREFILTER
from injector.locate.project import read_bytes

# Flags of read_marked: a training marker (PREFILTER), and `__main__`.
TRAINING = 1
MAIN = 2


def read_marked_python(full: str) -> tuple[int, bytes | None]:
    """The file's marker flags, and its bytes when a flag is set."""
    data = read_bytes(full)
    flags = TRAINING * (PREFILTER.search(data) is not None) + MAIN * (
        MAIN_MARKER in data
    )
    return flags, data if flags else None


read_marked: Callable[[str], tuple[int, bytes | None]]
try:
    # The same test in C, about twice as fast (bench/bench_locate.py).
    from injector.locate._prefilter import read_marked as _read_marked_in_c

    read_marked = _read_marked_in_c
except ImportError:  # built without a C compiler: the Python version serves
    read_marked = read_marked_python
