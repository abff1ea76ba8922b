"""The app's counters, kept in the shared store, and their Prometheus text form."""

from __future__ import annotations

import itertools
import json
import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds; a job clones, rewrites and pushes, so most take seconds to minutes.
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_BOUNDS = (*DURATION_BUCKETS, math.inf)


class Tally(Protocol):
    """Numbers by key, shared by every process on the queue (see bot.store)."""

    def add_to_tally(self, amounts: Mapping[str, float]) -> None:
        """Add each amount to its key, all of them at once."""
        ...

    def set_in_tally(self, key: str, value: float) -> None: ...

    def tally(self) -> dict[str, float]: ...


@dataclass(frozen=True)
class Family:
    name: str
    kind: str
    help: str
    labels: tuple[str, ...]


DELIVERIES = Family(
    "wandb_inject_deliveries_total",
    "counter",
    "Webhook deliveries answered, by event, outcome and reason of a rejection.",
    ("event", "outcome", "reason"),
)
JOBS = Family(
    "wandb_inject_jobs_total",
    "counter",
    "Job attempts ended, by outcome; a retried attempt counts as retried.",
    ("outcome",),
)
JOB_DURATION = Family(
    "wandb_inject_job_duration_seconds",
    "histogram",
    "How long a job attempt ran, by outcome.",
    ("outcome",),
)
PULL_REQUESTS = Family(
    "wandb_inject_pull_requests_opened_total",
    "counter",
    "Pull requests the app opened, by what asked for them.",
    ("trigger",),
)
# An installation removed keeps its last value here; nothing clears it yet.
RATE_LIMIT = Family(
    "wandb_inject_github_rate_limit_remaining",
    "gauge",
    "GitHub API calls left to an installation, from the last answer seen.",
    ("installation",),
)
FAMILIES = (DELIVERIES, JOBS, JOB_DURATION, PULL_REQUESTS, RATE_LIMIT)


class Metrics:
    """Records what the app does into a Tally, and renders it for Prometheus.

    Deliveries are counted in memory and added to the tally by `flush` (the web
    app calls it every few seconds and before each scrape), so the webhook's
    answer waits on no write. Jobs are written at once: they take seconds
    anyway, and a worker may stop at any time. Recording never raises: a
    metrics store that fails costs a warning, not a delivery or a job.
    """

    def __init__(self, tally: Tally) -> None:
        self._tally = tally
        # By label values: the key is written only when they are flushed.
        self._pending: Counter[tuple[str, ...]] = Counter()
        self._lock = threading.Lock()

    def delivery(self, event: str, outcome: str, reason: str = "") -> None:
        with self._lock:
            self._pending[event, outcome, reason] += 1

    def job(self, outcome: str, seconds: float) -> None:
        labels = (outcome,)
        amounts = {_key(JOBS.name, labels): 1.0}
        amounts.update(_observation(JOB_DURATION.name, labels, seconds))
        self._write(lambda: self._tally.add_to_tally(amounts))

    def pull_request_opened(self, trigger: str) -> None:
        key = _key(PULL_REQUESTS.name, (trigger,))
        self._write(lambda: self._tally.add_to_tally({key: 1.0}))

    def rate_limit(self, installation: int, remaining: int) -> None:
        key = _key(RATE_LIMIT.name, (str(installation),))
        self._write(lambda: self._tally.set_in_tally(key, float(remaining)))

    def flush(self) -> None:
        """Add the deliveries counted here to the tally; kept for later on failure."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return
        amounts = {_key(DELIVERIES.name, labels): n for labels, n in pending.items()}
        try:
            self._tally.add_to_tally(amounts)
        except Exception:
            with self._lock:
                self._pending.update(pending)
            raise

    def exposition(self) -> str:
        """Every family in Prometheus' text format, this process's counts included."""
        self.flush()
        return render(self._tally.tally())

    def _write(self, write: Callable[[], None]) -> None:
        try:
            write()
        except Exception:
            logger.warning("metrics not recorded", exc_info=True)


def render(tally: Mapping[str, float]) -> str:
    """The text exposition format (version 0.0.4) of a tally's keys."""
    samples: dict[str, list[tuple[list[str], float]]] = {}
    for key, value in tally.items():
        name, values = json.loads(key)
        samples.setdefault(name, []).append((values, value))
    lines: list[str] = []
    for family in FAMILIES:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        if family.kind == "histogram":
            lines.extend(_histogram_lines(family, samples))
            continue
        for values, value in sorted(samples.get(family.name, [])):
            lines.append(_line(family.name, family.labels, values, value))
    return "\n".join(lines) + "\n"


def _histogram_lines(
    family: Family, samples: Mapping[str, list[tuple[list[str], float]]]
) -> Iterator[str]:
    # An observation adds to its own bucket; Prometheus wants them cumulative.
    buckets: dict[tuple[str, ...], list[float]] = {}
    for values, count in samples.get(f"{family.name}_bucket", []):
        *rest, le = values
        row = buckets.setdefault(tuple(rest), [0.0] * len(_BOUNDS))
        # A bound no longer in use (an older worker's) counts in the next one up.
        row[next(i for i, bound in enumerate(_BOUNDS) if float(le) <= bound)] += count
    sums = {
        tuple(values): total for values, total in samples.get(f"{family.name}_sum", [])
    }
    names = (*family.labels, "le")
    for labels, row in sorted(buckets.items()):
        values = list(labels)
        for bound, running in zip(_BOUNDS, itertools.accumulate(row), strict=True):
            sample = [*values, _number(bound)]
            yield _line(f"{family.name}_bucket", names, sample, running)
        total = sums.get(labels, 0.0)
        yield _line(f"{family.name}_sum", family.labels, values, total)
        yield _line(f"{family.name}_count", family.labels, values, sum(row))


def _observation(
    name: str, labels: tuple[str, ...], seconds: float
) -> dict[str, float]:
    bound = next(each for each in _BOUNDS if seconds <= each)
    return {
        _key(name + "_bucket", (*labels, _number(bound))): 1.0,
        _key(name + "_sum", labels): seconds,
    }


def _key(name: str, values: tuple[str, ...]) -> str:
    return json.dumps([name, list(values)], separators=(",", ":"))


def _line(name: str, labels: Iterable[str], values: list[str], value: float) -> str:
    pairs = ",".join(
        f'{label}="{_escape_label(each)}"'
        for label, each in zip(labels, values, strict=True)
    )
    return f"{name}{{{pairs}}} {_number(value)}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")
