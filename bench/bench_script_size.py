"""Seconds the job spends on one training script by its size, against the example.

The bot leaves alone a script over MAX_SCRIPT_BYTES and stops rewriting once a
job has read MAX_JOB_BYTES (bot/job.py): these figures say what the limits
hold a worker to. Each script is the example training script padded with
module-level assignments, so it stays a training script the injector rewrites.
Run: python bench/bench_script_size.py [--sizes 64,256,512] [--cap 300]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from timing import timed

from bot.job import MAX_JOB_BYTES, MAX_SCRIPT_BYTES, run_job

EXAMPLE = Path(__file__).parents[1] / "examples" / "train_mnist.py"
# The job at its limits may hold a worker at most this long, in seconds.
GOAL_SECONDS = 180.0


def padded(size: int) -> bytes:
    """The example, grown to at most `size` bytes with plain assignments."""
    script = EXAMPLE.read_bytes()
    lines = []
    total = len(script)
    for number in range(size):
        line = f"padding_{number} = {number} * 2\n".encode()
        if total + len(line) > size:
            break
        lines.append(line)
        total += len(line)
    return script + b"".join(lines)


def seconds_for(source: bytes, cap: float) -> float | None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "train.py").write_bytes(source)
        elapsed, result = timed(
            lambda: run_job(Path(folder), fallback_project="bench"), cap
        )
    if result is None:
        return None
    assert [report.changed for report in result.reports] == [True]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,512", help="KiB, comma-separated")
    parser.add_argument("--cap", type=float, default=300.0)
    arguments = parser.parse_args()
    baseline = seconds_for(EXAMPLE.read_bytes(), arguments.cap)
    assert baseline is not None
    example_kib = len(EXAMPLE.read_bytes()) / 1024
    print(f"{'script':<12}{'seconds':>9}{'s per MB':>10}{'x example':>11}")
    print(f"{f'{example_kib:.0f} KiB':<12}{baseline:>9.2f}{'':>10}{1:>11.1f}")
    per_mb = 0.0
    for kib in (int(part) for part in arguments.sizes.split(",")):
        seconds = seconds_for(padded(kib * 1024), arguments.cap)
        if seconds is None:
            print(f"{f'{kib} KiB':<12}{'> cap':>9}")
            continue
        rate = seconds / (kib / 1024)
        per_mb = max(per_mb, rate)
        row = f"{f'{kib} KiB':<12}{seconds:>9.2f}{rate:>10.1f}"
        print(f"{row}{seconds / baseline:>11.1f}")
    worst = per_mb * (MAX_JOB_BYTES >> 20)
    print(
        f"limits: {MAX_SCRIPT_BYTES >> 10} KiB a script, {MAX_JOB_BYTES >> 20} MB "
        f"a job; at the slowest {per_mb:.1f} s per MB a job's rewriting takes at "
        f"most {worst:.0f} s"
    )
    verdict = "met" if worst <= GOAL_SECONDS else "NOT met"
    print(f"goal: at most {GOAL_SECONDS:.0f} s -> {verdict}")


if __name__ == "__main__":
    main()
