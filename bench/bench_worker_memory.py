"""Resident memory of one `wandb-inject worker` process across hundreds of jobs.

`serve --web-only` queues on SQLite and one worker process runs every job, the
fake GitHub in this process serving small repositories. The requests come in
batches; after each batch is done, the worker's VmRSS is read from /proc.
After the warm-up, the least-squares slope of RSS against jobs must project
to less than the bound over the remaining jobs; the exactly-once checks of
bench_load.py hold as well. Linux only (/proc).
Run: python bench/bench_worker_memory.py [--jobs N] [--every N] [--repos N]
Exits 1 if memory grows past the bound or a check fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The tests' helpers. The project's root goes first: the folder tests/injector
# would otherwise hide the injector package.
sys.path += [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "bot")]

import burst  # noqa: E402
from deliveries import Sender  # noqa: E402
from fakehub.fixtures import make_keys, new_world, served_site  # noqa: E402
from processes import answering, environment, start, stop  # noqa: E402

BOUND_MIB = 5.0
BATCH_SECONDS = 600.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def slope_per_100(samples: list[tuple[int, float]]) -> float:
    """MiB per 100 jobs, fitted by least squares."""
    jobs = [job for job, _ in samples]
    rss = [value for _, value in samples]
    fitted = statistics.linear_regression(jobs, rss)
    return fitted.slope * 100


def run(args: argparse.Namespace, folder: Path) -> int:
    world = new_world(make_keys(), folder / "github")
    with served_site(world) as site:
        hub = site.use(world)
        env = environment(folder, hub)
        url = f"http://{env['WANDB_INJECT_LISTEN']}"
        sender = Sender(hub, url)
        planned = _requests(burst.plan(sender, args.repos, args.jobs * 2), args.jobs)
        secret = world.app.webhook_secret
        logs = [folder / "serve.log", folder / "worker.log"]
        with logs[0].open("w") as web_log, logs[1].open("w") as worker_log:
            web = start("serve", env, "--web-only", log=web_log)
            threads = ("--workers", str(args.workers))
            worker = start("worker", env, *threads, log=worker_log)
            try:
                answering(f"{url}/readyz", web)
                samples = [(0, rss_mib(worker.pid))]
                deliveries: list[burst.Sent] = []
                for first in range(0, len(planned), args.every):
                    batch = planned[first : first + args.every]
                    _, posts = burst.fire(url, secret, [b.body for b in batch], 4)
                    deliveries += burst.sent(batch, posts)
                    text = lambda: "".join(p.read_text() for p in logs)  # noqa: E731
                    burst.wait_drained(deliveries, text, BATCH_SECONDS)
                    jobs = sum(each.planned.requests for each in deliveries)
                    samples.append((jobs, rss_mib(worker.pid)))
                    print(f"{jobs:>5} jobs  {samples[-1][1]:8.1f} MiB", flush=True)
            finally:
                stop(web)
                stop(worker)
        text = "".join(path.read_text() for path in logs)
        found = burst.problems(deliveries, world, text) + site.api.violations
    return _report(samples, found, args.warm_up)


def _requests(planned: list[burst.Planned], jobs: int) -> list[burst.Planned]:
    """The first deliveries of `planned` that hold `jobs` requests."""
    for end in range(len(planned) + 1):
        if sum(each.requests for each in planned[:end]) == jobs:
            return planned[:end]
    raise ValueError(f"fewer than {jobs} requests planned")


def _report(samples: list[tuple[int, float]], found: list[str], warm_up: int) -> int:
    values = [rss for _, rss in samples]
    after = [(job, rss) for job, rss in samples if job >= warm_up]
    jobs = samples[-1][0]
    slope = slope_per_100(after)
    growth = slope * (jobs - warm_up) / 100
    print(
        f"worker RSS: first {values[0]:.1f} MiB (idle), after job {samples[1][0]} "
        f"{values[1]:.1f}, last {values[-1]:.1f}, max {max(values):.1f} MiB"
    )
    print(
        f"after {warm_up} jobs of warm-up: {slope:+.2f} MiB per 100 jobs, "
        f"{growth:+.2f} MiB over the last {jobs - warm_up} jobs "
        f"(measured: {after[-1][1] - after[0][1]:+.2f})"
    )
    flat = growth < BOUND_MIB
    print(f"flat (under {BOUND_MIB:.0f} MiB): {'yes' if flat else 'NO'}")
    for problem in found[:50]:
        print(f"FAILED: {problem}")
    print(f"checks: {'all passed' if not found else f'{len(found)} failed'}")
    return 0 if flat and not found else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--every", type=int, default=25, help="jobs per sample")
    parser.add_argument("--repos", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2, help="job threads")
    parser.add_argument("--warm-up", type=int, default=100, help="jobs not fitted")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch:
        return run(args, Path(scratch))


if __name__ == "__main__":
    sys.exit(main())
