"""The inserted training log's cost per step: at the default interval and at 1.

Writes a small PyTorch training script, rewrites it with the injector, and runs the
original and the rewritten script with W&B in offline mode, each timing its own
training loop. A run whose log interval is never reached separates the cost of
having a W&B run at all (its background process shares the CPU) from the cost of
the log calls, which is what the interval controls. Needs torch and wandb, which
the project itself does not:
    pip install torch==2.13.0 wandb
Run: python bench/bench_log_interval.py [--steps N] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from injector import DEFAULT_LOG_EVERY, InjectOptions, inject_source

# A fast step on purpose: a small MLP on the CPU, where logging weighs the most.
SCRIPT = """\
import argparse
import time

import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=3000)
parser.add_argument("--lr", type=float, default=0.05)
args = parser.parse_args()

torch.manual_seed(0)
torch.set_num_threads(1)
model = torch.nn.Sequential(
    torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
)
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
x = torch.randn(64, 256)
y = torch.randint(0, 10, (64,))

start = time.perf_counter()
for step in range(args.steps):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
elapsed = time.perf_counter() - start
print(f"LOOP_SECONDS {elapsed:.6f}")
"""


def _loop_seconds(script: Path, steps: int, workdir: Path) -> float:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    done = subprocess.run(
        [sys.executable, str(script), "--steps", str(steps)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"LOOP_SECONDS (\S+)", done.stdout)
    if match is None:
        raise RuntimeError(f"no timing from {script.name}: {done.stderr[-500:]}")
    return float(match.group(1))


def _variant(workdir: Path, name: str, log_every: int) -> Path:
    report = inject_source(SCRIPT, InjectOptions(project="bench", log_every=log_every))
    if not report.changed:
        raise RuntimeError(f"the injector left the script unchanged: {report.reason}")
    path = workdir / name
    path.write_bytes(report.new_source)
    return path


def _missing_tools() -> list[str]:
    missing = []
    for module in ("torch", "wandb"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    missing = _missing_tools()
    if missing:
        print(f"needs {' and '.join(missing)}: pip install torch==2.13.0 wandb")
        return 2
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        plain = workdir / "plain.py"
        plain.write_text(SCRIPT)
        variants = {
            "original": plain,
            "run, no logs": _variant(workdir, "silent.py", 10**9),
            f"every {DEFAULT_LOG_EVERY} steps": _variant(
                workdir, "default.py", DEFAULT_LOG_EVERY
            ),
            "every step": _variant(workdir, "every.py", 1),
        }
        times = {name: [] for name in variants}
        for _ in range(options.repeat):
            for name, script in variants.items():
                times[name].append(_loop_seconds(script, options.steps, workdir))
    _print(times, options.steps)
    return 0


def _print(times: dict[str, list[float]], steps: int) -> None:
    per_step = {name: statistics.median(runs) / steps for name, runs in times.items()}
    base, silent = per_step["original"], per_step["run, no logs"]
    print(f"{steps} steps, median of {len(times['original'])} runs, WANDB_MODE=offline")
    print(f"{'variant':<18} {'us/step':>9} {'vs original':>12} {'vs run, no logs':>16}")
    for name, seconds in per_step.items():
        print(
            f"{name:<18} {seconds * 1e6:>9.1f} {(seconds - base) / base:>+12.2%}"
            f" {(seconds - silent) / silent:>+16.2%}"
        )
    # Run to run, a loop's time varies by about a percent, as much as the effect
    # at the default interval; logging at every step measures one call well, and
    # the interval divides that cost.
    per_call = per_step["every step"] - silent
    share = per_call / DEFAULT_LOG_EVERY / silent
    print(f"one log call (from the every-step runs): {per_call * 1e6:.0f} us")
    print(
        f"every {DEFAULT_LOG_EVERY} steps: {per_call / DEFAULT_LOG_EVERY * 1e6:.1f} us "
        f"a step = {share:.2%} of a {silent * 1e6:.0f} us step"
    )
    verdict = "met" if share < 0.01 else "NOT met"
    print(f"goal: under 1% of a step -> {verdict}")


if __name__ == "__main__":
    sys.exit(main())
