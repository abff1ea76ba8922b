"""Time the injector on large training scripts against bare libcst parse + codegen."""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import libcst as cst
from training_scripts import build_training_script

from injector import FileReport, Status, inject_source

GOAL_RATIO = 2.0
LARGE_SIZES = (1_000, 5_000, 20_000)
FIXTURES = Path(__file__).resolve().parent.parent / "tests/injector/fixtures"
# Files are named as they would be in a repository, so the default W&B project
# is derived the same way the CLI derives it.
SCRIPT_PATH = "experiments/train.py"
T = TypeVar("T")


@dataclass
class BenchInput:
    name: str
    sources: list[bytes]
    lines: int
    large: bool
    floor_best: float = float("inf")
    inject_best: float = float("inf")
    # From the first timed run, so the status shown is that of what was timed.
    reports: list[FileReport] = field(default_factory=list)

    @property
    def statuses(self) -> Counter[Status]:
        return Counter(report.status for report in self.reports)


def _line_count(sources: Sequence[bytes]) -> int:
    return sum(len(source.splitlines()) for source in sources)


def _large_inputs() -> list[BenchInput]:
    inputs = []
    for size in LARGE_SIZES:
        sources = [build_training_script(size).encode("utf-8")]
        name = f"train_{size // 1000}k.py"
        inputs.append(BenchInput(name, sources, _line_count(sources), large=True))
    return inputs


def _fixture_input() -> tuple[BenchInput | None, int]:
    """All fixture scripts as one input, minus those libcst cannot parse."""
    parseable, rejected = [], 0
    for path in sorted(FIXTURES.glob("**/before.py")):
        source = path.read_bytes()
        try:
            cst.parse_module(source)
        except (cst.ParserSyntaxError, UnicodeDecodeError, SyntaxError):
            rejected += 1
            continue
        parseable.append(source)
    if not parseable:
        return None, rejected
    name = f"fixtures ({len(parseable)} files)"
    lines = _line_count(parseable)
    return BenchInput(name, parseable, lines, large=False), rejected


def _floor(sources: Sequence[bytes]) -> list[str]:
    return [cst.parse_module(source).code for source in sources]


def _inject(sources: Sequence[bytes]) -> list[FileReport]:
    return [inject_source(source, path=SCRIPT_PATH) for source in sources]


def _time_once(
    run: Callable[[Sequence[bytes]], T], sources: list[bytes]
) -> tuple[float, T]:
    gc.collect()
    start = time.perf_counter()
    result = run(sources)
    return time.perf_counter() - start, result


def _run_rounds(inputs: list[BenchInput], repeat: int, budget: float) -> int:
    """Best-of-`repeat` timings; stops after a round once `budget` seconds are used."""
    started = time.perf_counter()
    for done in range(1, repeat + 1):
        for item in inputs:
            floor_time, _ = _time_once(_floor, item.sources)
            inject_time, reports = _time_once(_inject, item.sources)
            item.floor_best = min(item.floor_best, floor_time)
            item.inject_best = min(item.inject_best, inject_time)
            item.reports = item.reports or reports
        if time.perf_counter() - started > budget:
            return done
    return repeat


def _status_text(counts: Counter[Status]) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))


def _print_table(inputs: list[BenchInput]) -> None:
    header = (
        f"{'input':<22}{'lines':>8}{'floor s':>10}{'floor l/s':>12}"
        f"{'inject s':>10}{'inject l/s':>12}{'ratio':>8}  status"
    )
    print(header)
    print("-" * len(header))
    for item in inputs:
        ratio = item.inject_best / item.floor_best
        print(
            f"{item.name:<22}{item.lines:>8}"
            f"{item.floor_best:>10.3f}{item.lines / item.floor_best:>12,.0f}"
            f"{item.inject_best:>10.3f}{item.lines / item.inject_best:>12,.0f}"
            f"{ratio:>7.2f}x  {_status_text(item.statuses)}"
        )


def _warn_if_noop(inputs: list[BenchInput]) -> bool:
    """Warn for each large script the injector did not change; True if any."""
    idle = [item for item in inputs if item.large and not item.reports[0].changed]
    for item in idle:
        report = item.reports[0]
        print(
            f"WARNING: injector returned {report.status} for {item.name} "
            f"({report.reason!r}); its time measures a no-op, not an injection"
        )
    return bool(idle)


def _peak_rss_mib() -> float:
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


def _probe_memory(mode: str, size: int) -> None:
    """Child-process entry: one run on a fresh heap, reporting its peak RSS."""
    source = build_training_script(size).encode("utf-8")
    warmup = build_training_script(50).encode("utf-8")
    run = _floor if mode == "floor" else _inject
    run([warmup])
    gc.collect()
    before = _peak_rss_mib()
    run([source])
    print(json.dumps({"before": before, "after": _peak_rss_mib()}))


def _measure_memory(size: int) -> None:
    """Peak RSS of floor and injector on the largest input, each in its own process."""
    command = [sys.executable, __file__, "--lines", str(size), "--probe-memory"]
    # The two probes run side by side; each has its own process, so the peaks
    # do not mix, and the wall time is that of the slower one.
    probes = {
        mode: subprocess.Popen([*command, mode], stdout=subprocess.PIPE, text=True)
        for mode in ("floor", "inject")
    }
    peaks = {}
    for mode, probe in probes.items():
        output, _ = probe.communicate()
        if probe.returncode != 0:
            print(f"memory probe for {mode} failed with exit code {probe.returncode}")
            return
        peaks[mode] = json.loads(output)
    print(f"peak memory on train_{size // 1000}k.py (process RSS high-water mark):")
    for mode, peak in peaks.items():
        grown = peak["after"] - peak["before"]
        print(
            f"  {mode:<7} {peak['after']:8.1f} MiB total, +{grown:.1f} MiB for the run"
        )


def _summary(inputs: list[BenchInput], idle: bool) -> None:
    floor_total = sum(item.floor_best for item in inputs)
    inject_total = sum(item.inject_best for item in inputs)
    ratio = inject_total / floor_total
    verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
    if idle:
        verdict += " (but the injector changed nothing, so this proves nothing)"
    print(
        f"overall: injector {inject_total:.3f} s vs parse+codegen {floor_total:.3f} s"
        f" = {ratio:.2f}x; goal: within {GOAL_RATIO}x of parse+codegen -> {verdict}"
    )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument(
        "--budget",
        type=float,
        default=40.0,
        help="seconds after which no further round starts (default 40)",
    )
    parser.add_argument(
        "--lines", type=int, default=LARGE_SIZES[-1], help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--probe-memory", choices=("floor", "inject"), help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    if args.probe_memory:
        _probe_memory(args.probe_memory, args.lines)
        return
    inputs = _large_inputs()
    fixtures, rejected = _fixture_input()
    if fixtures:
        inputs.append(fixtures)
    if rejected:
        print(f"left out {rejected} fixture(s) that libcst cannot parse")
    warmup = [build_training_script(50).encode("utf-8")]
    _floor(warmup)
    _inject(warmup)

    rounds = _run_rounds(inputs, args.repeat, args.budget)
    print(
        f"best of {rounds} round(s) (asked for {args.repeat}, budget {args.budget:g} s)"
    )
    _print_table(inputs)
    idle = _warn_if_noop(inputs)
    _measure_memory(LARGE_SIZES[-1])
    _summary(inputs, idle)


if __name__ == "__main__":
    main()
