"""Wall-clock runs with a time cap, and the peak memory of this process."""

from __future__ import annotations

import gc
import resource
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TypeVar

T = TypeVar("T")


class Overrun(BaseException):
    """Abandons a run at its cap.

    A BaseException, so the injector's catch-all for Exception lets it through.
    """


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Overrun


def timed(run: Callable[[], T], cap: float | None = None) -> tuple[float, T | None]:
    """Seconds `run` took and its result; None as result if it passed `cap`."""
    gc.collect()
    previous = signal.signal(signal.SIGALRM, _stop) if cap else None
    if cap:
        signal.setitimer(signal.ITIMER_REAL, cap)
    start = time.perf_counter()
    try:
        result: T | None = run()
    except Overrun:
        result = None
    finally:
        if cap:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return time.perf_counter() - start, result


def peak_rss_mib() -> float:
    """The most resident memory this process has held, in MiB."""
    # A spawned child's ru_maxrss starts from its parent's peak on Linux, so
    # read the high-water mark of this process's own memory map where we can.
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
