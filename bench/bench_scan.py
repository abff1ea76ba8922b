"""Organisation scan throughput with 1 and 2 worker processes on Redis.

The fake GitHub (REST checked against GitHub's description, git over smart
HTTP on loopback) holds one organisation of N repositories: one in ten has a
training script and gets a pull request, the others hold Python code without a
training loop, and a few are archived. The scan is queued as a scheduled one
is; `wandb-inject worker` processes (real redis-server) take one repository
job each at a time. The baseline is the one-worker run.
Run: python bench/bench_scan.py [--repos N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import bot.scan  # noqa: F401 - the job's modules load before tests/ joins the path
from bot.queue import flow_handlers, open_queue

ROOT = Path(__file__).resolve().parents[1]
# The tests' helpers; on the path only once the project's modules are loaded.
sys.path += [str(ROOT / "tests"), str(ROOT / "tests" / "bot")]

from fakehub.fixtures import (  # noqa: E402
    Hub,
    Site,
    make_keys,
    new_world,
    served_site,
    settings_for,
)
from gitrepos import EXAMPLE  # noqa: E402
from redis_server import RedisServer  # noqa: E402

OWNER = "acme"
WAIT_SECONDS = 900.0
LIBRARY = b'''"""Helpers."""


def scale(values, factor):
    return [value * factor for value in values]
'''
DONE_LINE = "repository scanned"


def _seed(hub: Hub, repos: int) -> int:
    """The organisation's repositories; how many the scan will visit."""
    world = hub.world
    world.install(OWNER)
    visited = 0
    for index in range(repos):
        name = f"project-{index:03d}"
        if index % 10 == 0:
            files = {"train.py": EXAMPLE.read_bytes(), "README.md": "# T\n"}
        else:
            files = {"lib/helpers.py": LIBRARY, "tests/test_helpers.py": LIBRARY}
        archived = index % 25 == 7
        world.add_repo(OWNER, name, files, archived=archived)
        visited += not archived
    return visited


def _environment(hub: Hub, folder: Path, redis_url: str) -> dict[str, str]:
    app = hub.world.app
    key_file = folder / "app.pem"
    key_file.write_text(app.private_key)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_INJECT")}
    return clean | {
        "WANDB_INJECT_APP_ID": str(app.id),
        "WANDB_INJECT_PRIVATE_KEY_PATH": str(key_file),
        "WANDB_INJECT_WEBHOOK_SECRET": app.webhook_secret,
        "WANDB_INJECT_GITHUB_API_URL": hub.url,
        "WANDB_INJECT_DATA_DIR": str(folder / "data"),
        "WANDB_INJECT_QUEUE": redis_url,
        # The caps are the subject of other tests; here they must not bind.
        "WANDB_INJECT_SCAN_PULLS_PER_HOUR": "10000",
        "WANDB_INJECT_SCAN_OPEN_PULLS": "10000",
    }


def _run(
    site: Site, redis: RedisServer, folder: Path, workers: int, repos: int
) -> float:
    """Seconds from queueing the scan to the last repository scanned."""
    hub = site.use(new_world(make_keys(), folder / "github"))
    visited = _seed(hub, repos)
    redis.client().flushall()
    env = _environment(hub, folder, redis.url)
    logs = [folder / f"worker-{n}.log" for n in range(workers)]
    processes = [_start_worker(env, log) for log in logs]
    try:
        _wait(lambda: all("started" in log.read_text() for log in logs), processes)
        settings = replace(settings_for(hub, folder), queue_url=redis.url)
        queue = open_queue(settings, flow_handlers(settings))
        assert queue.scans is not None
        start = time.perf_counter()
        queue.scans.start()
        _wait(lambda: _scanned(logs) >= visited, processes)
        elapsed = time.perf_counter() - start
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
    opened = sum(len(hub.world.pulls(OWNER, r.name)) for r in hub.world.repos.values())
    expected = len([i for i in range(repos) if i % 10 == 0 and i % 25 != 7])
    if opened != expected:
        raise SystemExit(f"{opened} pull requests opened, expected {expected}")
    if site.api.violations:
        problems = "\n".join(site.api.violations)
        raise SystemExit(f"the fake saw calls GitHub would reject:\n{problems}")
    return visited / elapsed


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--workers", "1"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _scanned(logs: list[Path]) -> int:
    return sum(log.read_text().count(DONE_LINE) for log in logs)


def _wait(
    condition: Callable[[], bool], processes: list[subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if any(process.poll() is not None for process in processes):
            raise SystemExit("a worker exited early; see its log")
        if time.monotonic() > deadline:
            raise SystemExit(f"not done after {WAIT_SECONDS:.0f} s")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=200)
    args = parser.parse_args(argv)
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit("needs redis-server: apt-get install redis-server")
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as scratch:
        folder = Path(scratch)
        placeholder = new_world(make_keys(), folder / "placeholder")
        with (
            served_site(placeholder) as site,
            RedisServer(executable, folder / "redis") as redis,
        ):
            rates = {}
            for workers in (1, 2):
                run_folder = folder / f"workers-{workers}"
                run_folder.mkdir()
                rates[workers] = _run(site, redis, run_folder, workers, args.repos)
    print(f"{'worker processes':<20}{'repos/s':>10}")
    for workers, rate in rates.items():
        print(f"{workers:<20}{rate:>10.2f}")
    print(f"2 workers scan {rates[2] / rates[1]:.2f}x as fast as 1")


if __name__ == "__main__":
    main()
