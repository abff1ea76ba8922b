"""Time the injector on large training scripts against bare libcst parse + codegen."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import libcst as cst
from timing import peak_rss_mib, timed
from training_scripts import build_training_script

from injector import FileReport, inject_source

GOAL_RATIO = 2.0
LARGE_SIZES = (1_000, 5_000, 20_000)
FIXTURES = Path(__file__).resolve().parent.parent / "tests/injector/fixtures"
# Named as in a repository, so the default W&B project comes out as it would.
SCRIPT_PATH = "experiments/train.py"


@dataclass
class BenchInput:
    name: str
    sources: list[bytes]
    large: bool
    floor_best: float = float("inf")
    inject_best: float = float("inf")
    # The injector passed the cap on every try; its time is a lower bound.
    overran: bool = False
    # From the first completed run, so the status shown is that of what was timed.
    reports: list[FileReport] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return sum(len(source.splitlines()) for source in self.sources)


def _large_inputs() -> list[BenchInput]:
    return [
        BenchInput(
            f"train_{size // 1000}k.py",
            [build_training_script(size).encode("utf-8")],
            large=True,
        )
        for size in LARGE_SIZES
    ]


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
    return BenchInput(name, parseable, large=False), rejected


def _floor(sources: Sequence[bytes]) -> list[str]:
    return [cst.parse_module(source).code for source in sources]


def _inject(sources: Sequence[bytes]) -> list[FileReport]:
    return [inject_source(source, path=SCRIPT_PATH) for source in sources]


def _time_input(item: BenchInput, cap: float) -> None:
    floor_time, _ = timed(partial(_floor, item.sources))
    item.floor_best = min(item.floor_best, floor_time)
    if item.overran:
        return
    inject_time, reports = timed(partial(_inject, item.sources), cap)
    item.inject_best = min(item.inject_best, inject_time)
    if reports is None:
        item.overran = not item.reports
    item.reports = item.reports or reports or []


def _run_rounds(
    inputs: list[BenchInput], repeat: int, budget: float, cap: float
) -> int:
    """Best-of-`repeat` timings; no round starts once `budget` seconds are spent."""
    started = time.perf_counter()
    for done in range(1, repeat + 1):
        for item in inputs:
            _time_input(item, cap)
        if time.perf_counter() - started > budget:
            return done
    return repeat


def _status_text(item: BenchInput) -> str:
    if item.overran:
        return "stopped at the cap"
    counts = Counter(report.status for report in item.reports)
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))


def _print_table(inputs: list[BenchInput]) -> None:
    header = (
        f"{'input':<22}{'lines':>8}{'floor s':>10}{'floor l/s':>12}"
        f"{'inject s':>10}{'inject l/s':>12}{'ratio':>9}  status"
    )
    print(header)
    print("-" * len(header))
    for item in inputs:
        bound = ">" if item.overran else ""
        inject_rate = (
            f"{'<' if item.overran else ''}{item.lines / item.inject_best:,.0f}"
        )
        print(
            f"{item.name:<22}{item.lines:>8}"
            f"{item.floor_best:>10.3f}{item.lines / item.floor_best:>12,.0f}"
            f"{bound + f'{item.inject_best:.3f}':>10}{inject_rate:>12}"
            f"{bound + f'{item.inject_best / item.floor_best:.2f}x':>9}"
            f"  {_status_text(item)}"
        )


def _warn(inputs: list[BenchInput], cap: float) -> bool:
    """Warn about large scripts that were not really injected; True if any was idle."""
    idle = False
    for item in (item for item in inputs if item.large):
        if item.overran:
            print(
                f"WARNING: the injector passed the {cap:g} s cap on {item.name} and"
                " was stopped; its figures are lower bounds"
            )
        elif not item.reports[0].changed:
            idle = True
            report = item.reports[0]
            print(
                f"WARNING: the injector returned {report.status} for {item.name}"
                f" ({report.reason!r}); its time measures a no-op, not an injection"
            )
    return idle


def _probe_memory(mode: str, size: int, cap: float) -> None:
    """Child-process entry: one run on a fresh heap, reporting its peak RSS."""
    source = build_training_script(size).encode("utf-8")
    run = _floor if mode == "floor" else _inject
    run([build_training_script(50).encode("utf-8")])
    before = peak_rss_mib()
    _, result = timed(partial(run, [source]), cap if mode == "inject" else None)
    after = peak_rss_mib()
    print(json.dumps({"before": before, "after": after, "stopped": result is None}))


def _measure_memory(size: int, cap: float) -> None:
    """Peak RSS of floor and injector on the largest input, each in its own process."""
    command = [sys.executable, __file__, "--lines", str(size), "--cap", str(cap)]
    # Side by side, in separate processes: the peaks do not mix, and the wait
    # is that of the slower probe.
    probes = {
        mode: subprocess.Popen(
            [*command, "--probe-memory", mode], stdout=subprocess.PIPE, text=True
        )
        for mode in ("floor", "inject")
    }
    print(f"peak memory on train_{size // 1000}k.py (process RSS high-water mark):")
    for mode, probe in probes.items():
        output, _ = probe.communicate()
        if probe.returncode != 0:
            print(f"  {mode:<7} probe failed with exit code {probe.returncode}")
            continue
        peak = json.loads(output)
        grown = peak["after"] - peak["before"]
        note = " (stopped at the cap: a lower bound)" if peak["stopped"] else ""
        print(
            f"  {mode:<7} {peak['after']:8.1f} MiB in all,"
            f" +{grown:.1f} MiB for the run{note}"
        )


def _summary(inputs: list[BenchInput], idle: bool) -> None:
    floor_total = sum(item.floor_best for item in inputs)
    inject_total = sum(item.inject_best for item in inputs)
    ratio = inject_total / floor_total
    bound = ">" if any(item.overran for item in inputs) else ""
    verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
    if idle:
        verdict += " (but the injector changed nothing, so this proves nothing)"
    print(
        f"overall: injector {bound}{inject_total:.3f} s vs parse+codegen"
        f" {floor_total:.3f} s = {bound}{ratio:.2f}x;"
        f" goal: within {GOAL_RATIO}x of parse+codegen -> {verdict}"
    )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="seconds of timing after which no new round starts (default 30)",
    )
    parser.add_argument(
        "--cap",
        type=float,
        default=15.0,
        help="seconds after which one injector run is stopped (default 15)",
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
        _probe_memory(args.probe_memory, args.lines, args.cap)
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

    rounds = _run_rounds(inputs, args.repeat, args.budget, args.cap)
    print(
        f"best of {rounds} round(s) (asked for {args.repeat}; budget {args.budget:g} s)"
    )
    _print_table(inputs)
    idle = _warn(inputs, args.cap)
    _measure_memory(LARGE_SIZES[-1], args.cap)
    _summary(inputs, idle)


if __name__ == "__main__":
    main()
