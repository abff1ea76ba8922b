"""A burst of signed comment deliveries across many repositories, via real processes.

GitHub is the tests' fake (REST checked against GitHub's description, git
over smart HTTP on loopback), in this process; the app runs as `wandb-inject
serve` with SQLite, or as `serve` plus `worker` processes on a real
redis-server. The burst comes from concurrent clients in a process of their
own. Then it waits for every job and checks that each delivery was answered
2xx, each request got one reaction and one status comment with its final
outcome, each repository with a script got one pull request and the others
none, and each job ran once, with nothing failed or left queued.

Baselines, measured in the same run: the same burst against `serve
--web-only` (the endpoint with no job competing for the machine), and one
request's comment-to-PR time on an idle app (the job alone).
Run: python bench/bench_load.py [--deliveries N] [--repos N] [--clients N]
     [--redis --worker-processes N] [--workers N] [--drain SECONDS]
Exits 1 if any check fails, or the jobs outlast --drain (then the finished
requests are checked, and the rate so far printed).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The tests' helpers. The project's root goes first: the folder tests/injector
# would otherwise hide the injector package, here and in a spawned process.
sys.path += [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "bot")]

import burst  # noqa: E402
from deliveries import Sender  # noqa: E402
from fakehub.fixtures import Hub, make_keys, new_world, served_site  # noqa: E402
from processes import answering, environment, start, stop  # noqa: E402
from redis_server import RedisServer  # noqa: E402

DRAIN_SECONDS = 3600.0
SINGLE_SECONDS = 120.0


@contextmanager
def _app(
    folder: Path, hub: Hub, env: dict[str, str], args: argparse.Namespace
) -> Iterator[list[Path]]:
    """The app's processes running; yields their log files."""
    workers = ("--workers", str(args.workers))
    commands = [("serve", ("--web-only",) if args.redis else workers)]
    commands += [("worker", workers)] * (args.worker_processes if args.redis else 0)
    with ExitStack() as stack:
        logs, processes = [], []
        for index, (command, options) in enumerate(commands):
            path = folder / f"{command}-{index}.log"
            log = stack.enter_context(path.open("w"))
            processes.append(start(command, env, *options, log=log))
            logs.append(path)
        try:
            answering(f"http://{env['WANDB_INJECT_LISTEN']}/readyz", processes[0])
            yield logs
        finally:
            for process in processes:
                stop(process)


def _read(logs: list[Path]) -> str:
    return "".join(path.read_text() for path in logs)


def _fire(url: str, secret: str, bodies: list[bytes], clients: int) -> tuple:
    # The clients run in a process of their own: here they would share a GIL
    # with the fake GitHub, and its work would show as webhook latency.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(burst.fire, url, secret, bodies, clients).result()


def _single(sender: Sender, env: dict[str, str], logs: list[Path]) -> list[float]:
    """Seconds from a request on an idle app to its final status, one after another.

    The first pays for the job's imports; the second is the baseline.
    """
    url, secret = env["WANDB_INJECT_LISTEN"], sender.hub.world.app.webhook_secret
    times = []
    for turn in range(2):
        [planned] = burst.plan(sender, 1, 1, nothing_every=2, prefix=f"alone-{turn}")
        began, posts = burst.fire(f"http://{url}", secret, [planned.body], 1)
        deliveries = burst.sent([planned], posts)
        drained = burst.wait_drained(deliveries, lambda: _read(logs), SINGLE_SECONDS)
        times.append(drained - began)
    return times


def _env(folder: Path, hub: Hub, args: argparse.Namespace, db: int) -> dict[str, str]:
    folder.mkdir(parents=True)
    more = {"WANDB_INJECT_QUEUE": f"{args.redis_url}{db}"} if args.redis else {}
    return environment(folder, hub, **more)


def _row(name: str, latencies: list[float]) -> str:
    cells = [burst.percentile(latencies, q) * 1000 for q in (0.5, 0.95, 0.99, 1.0)]
    return f"{name:<28}" + "".join(f"{cell:>9.1f}" for cell in cells)


def run(args: argparse.Namespace, folder: Path) -> int:
    world = new_world(make_keys(), folder / "github")
    with served_site(world) as site:
        hub = site.use(world)
        secret = world.app.webhook_secret
        base_env = _env(folder / "baseline", hub, args, db=1)
        env = _env(folder / "app", hub, args, db=0)
        url = f"http://{env['WANDB_INJECT_LISTEN']}"
        sender = Sender(hub, url)
        planned = burst.plan(sender, args.repos, args.deliveries)
        bodies = [each.body for each in planned]
        base_args = argparse.Namespace(**{**vars(args), "worker_processes": 0})
        with _app(folder / "baseline", hub, base_env, base_args):
            base_url = f"http://{base_env['WANDB_INJECT_LISTEN']}"
            _, base_posts = _fire(base_url, secret, bodies, args.clients)
        with _app(folder / "app", hub, env, args) as logs:
            alone = _single(sender, env, logs)
            began, posts = _fire(url, secret, bodies, args.clients)
            deliveries = burst.sent(planned, posts)
            _report_burst(args, base_posts, deliveries, alone)
            found, checked = _drain(args, deliveries, logs, began)
            left = burst.queue_left(env)
        found += burst.problems(checked, world, _read(logs)) + site.api.violations
        if left and len(checked) == len(deliveries):
            found.append(f"{left} tasks left in the queue")
    for problem in found[:50]:
        print(f"FAILED: {problem}")
    print(f"checks: {'all passed' if not found else f'{len(found)} failed'}")
    return 1 if found else 0


def _drain(
    args: argparse.Namespace,
    deliveries: list[burst.Sent],
    logs: list[Path],
    began: float,
) -> tuple[list[str], list[burst.Sent]]:
    """Wait for every job and print the drain; past the budget, the finished part.

    Returns the failures so far, and the deliveries whose outcome can be checked.
    """
    requests = sum(each.planned.requests for each in deliveries)
    threads = args.workers * (args.worker_processes if args.redis else 1)
    try:
        drained = burst.wait_drained(deliveries, lambda: _read(logs), args.drain)
    except TimeoutError as error:
        done = [each for each in deliveries if burst.finished([each])]
        names = {each.planned.repo.name for each in done}
        plain = [
            each
            for each in deliveries
            if not each.planned.requests and each.planned.repo.name in names
        ]
        print(f"not drained: {error}; {len(done) / args.drain:.2f} jobs/s so far")
        return [f"not drained: {error}"], done + plain
    drain = drained - began
    print(
        f"drain: {drain:.1f} s for {requests} jobs on {threads} job threads, "
        f"{requests / drain:.2f} jobs/s"
    )
    return [], deliveries


def _report_burst(
    args: argparse.Namespace,
    base_posts: list[burst.Post],
    deliveries: list[burst.Sent],
    alone: list[float],
) -> None:
    requests = sum(each.planned.requests for each in deliveries)
    where = (
        f"serve --web-only + {args.worker_processes} worker processes on Redis"
        if args.redis
        else "serve on SQLite"
    )
    print(
        f"{len(deliveries)} deliveries ({requests} requests) across {args.repos} "
        f"repositories from {args.clients} clients; {where}, "
        f"{args.workers} job threads each"
    )
    print(f"{'webhook latency, ms':<28}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    print(_row("web only (baseline)", [post[2] for post in base_posts]))
    print(_row("with jobs running", [each.seconds for each in deliveries]))
    bad = sum(not 200 <= each.status < 300 for each in deliveries)
    print(f"answers not 2xx: {bad}")
    threads = args.workers * (args.worker_processes if args.redis else 1)
    ideal = requests * alone[-1] / threads
    print(
        f"a request alone, comment to final status: {alone[-1]:.2f} s (baseline); "
        f"the first, with the job's imports: {alone[0]:.2f} s; at the lone "
        f"request's pace {threads} job threads would drain the burst in "
        f"{ideal:.0f} s",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--repos", type=int, default=50)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="job threads each")
    parser.add_argument("--redis", action="store_true")
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument(
        "--drain", type=float, default=DRAIN_SECONDS, help="seconds to wait for jobs"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch:
        folder = Path(scratch)
        if not args.redis:
            return run(args, folder)
        executable = shutil.which("redis-server")
        if executable is None:
            raise SystemExit("--redis needs redis-server: apt-get install redis-server")
        with RedisServer(executable, folder / "redis") as server:
            args.redis_url = server.url.removesuffix("0")
            return run(args, folder)


if __name__ == "__main__":
    sys.exit(main())
