"""Fuzz the injector at length: thousands of generated and mutated scripts.

Runs the test suite's report checks (never raises, output parses and compiles,
a second run changes nothing, untouched files keep their bytes, the byte outline
agrees with ast) on four sources, and prints counts, time and every distinct
failure, with the first input that showed it saved under --out.

    python bench/fuzz_injector.py --scale 20

The same checks under pytest, with shrinking: WANDB_INJECT_FUZZ_SCALE=40 pytest
tests/injector/test_fuzz.py tests/injector/test_properties.py
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import hypothesmith
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from injector import FileReport, inject_source

# After the injector's import: tests/injector would pass for it on the path.
ROOT = Path(__file__).resolve().parent.parent
sys.path += [str(ROOT / "tests"), str(ROOT / "tests" / "injector")]

from mutations import layouts, mutate, mutations  # noqa: E402
from report_checks import check_report  # noqa: E402
from test_fuzz import SCRIPTS  # noqa: E402
from test_properties import LOOP_TAIL, render, shapes  # noqa: E402


@dataclass
class Failure:
    count: int
    # The first input that showed it.
    saved: Path


@dataclass
class Tally:
    """What one source of inputs gave."""

    name: str
    inputs: int = 0
    compiles: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: dict[str, Failure] = field(default_factory=dict)

    def check(self, source: bytes, out: Path) -> None:
        self.inputs += 1
        try:
            compile(source, "<fuzz>", "exec", dont_inherit=True)
            self.compiles += 1
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
        start = time.perf_counter()
        report: FileReport | None = None
        try:
            report = inject_source(source, path="experiments/fuzz/train.py")
            check_report(source, report)
        except Exception as error:
            self._fail(error, source, out)
        finally:
            self.seconds += time.perf_counter() - start
        if report is not None:
            self.statuses[str(report.status)] += 1

    def _fail(self, error: Exception, source: bytes, out: Path) -> None:
        where = traceback.extract_tb(error.__traceback__)[-1]
        first = (str(error).splitlines() or [""])[0][:120]
        key = f"{type(error).__name__} at {Path(where.filename).name}:{where.lineno}"
        key += f": {first}"
        if key in self.failures:
            self.failures[key].count += 1
            return
        saved = out / f"{self.name}-{len(self.failures) + 1}.py"
        out.mkdir(parents=True, exist_ok=True)
        saved.write_bytes(source)
        self.failures[key] = Failure(1, saved)


SOURCES: dict[str, tuple[st.SearchStrategy[bytes], int]] = {
    "mutated-fixtures": (
        st.builds(
            lambda case, changes, layout: mutate(case.before, changes, layout),
            st.sampled_from(SCRIPTS),
            mutations,
            layouts,
        ),
        100,
    ),
    "template-shapes": (shapes.map(render), 50),
    "grammar": (
        st.tuples(hypothesmith.from_grammar(), st.booleans()).map(
            lambda p: p[0].encode("utf-8", "surrogatepass") + LOOP_TAIL * p[1]
        ),
        50,
    ),
    "node": (
        st.tuples(hypothesmith.from_node(), st.booleans()).map(
            lambda p: p[0].encode("utf-8") + LOOP_TAIL * p[1]
        ),
        20,
    ),
}


def run(name: str, count: int, out: Path) -> Tally:
    tally = Tally(name)
    strategy, _ = SOURCES[name]
    chosen = settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    test: Callable[[bytes], None] = lambda source: tally.check(source, out)  # noqa: E731
    chosen(given(strategy)(test))()
    return tally


def show(tallies: list[Tally], wall: float) -> None:
    print(f"{'source':<18}{'inputs':>8}{'compile':>9}{'ms/input':>10}  statuses")
    for t in tallies:
        per = 1000 * t.seconds / max(t.inputs, 1)
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(t.statuses.items()))
        print(f"{t.name:<18}{t.inputs:>8}{t.compiles:>9}{per:>10.1f}  {statuses}")
    total = sum(t.inputs for t in tallies)
    failures = sum(len(t.failures) for t in tallies)
    print(f"total {total} inputs in {wall:.0f} s; {failures} distinct failures")
    for t in tallies:
        for key, failure in t.failures.items():
            print(f"  [{t.name}] x{failure.count} {key}")
            print(f"      first input: {failure.saved}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10, help="inputs per unit")
    parser.add_argument("--only", choices=sorted(SOURCES), action="append")
    parser.add_argument("--out", type=Path, default=Path("/tmp/fuzz_injector"))
    args = parser.parse_args()
    # Generated code calls integer literals; compile warns of each one.
    warnings.simplefilter("ignore", SyntaxWarning)
    start = time.perf_counter()
    tallies = [
        run(name, SOURCES[name][1] * args.scale, args.out)
        for name in (args.only or SOURCES)
    ]
    show(tallies, time.perf_counter() - start)
    return 1 if any(t.failures for t in tallies) else 0


if __name__ == "__main__":
    sys.exit(main())
