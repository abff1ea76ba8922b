"""Seconds from a `/wandb-inject` comment to the pull request, against the local job.

The app runs as `wandb-inject serve` does with SQLite: web and an in-process
consumer. GitHub is the tests' fake (REST checked against GitHub's description,
git over smart HTTP on loopback). The baseline is `wandb-inject run` on a local
clone of the same repository: the same job without the queue, GitHub or the
network, so the difference is what the app adds around the job.
Run: python bench/bench_comment_to_pr.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.app import create_app
from bot.job import run_in_repository

ROOT = Path(__file__).resolve().parents[1]
# The tests' helpers: the fake GitHub, deliveries, a server on loopback. Their
# folder goes on the path only once the project's modules are loaded: its
# tests/injector would hide an injector not imported yet.
sys.path += [str(ROOT / "tests"), str(ROOT / "tests" / "bot")]

from deliveries import Sender  # noqa: E402
from fakehub.fixtures import (  # noqa: E402
    Hub,
    make_keys,
    new_world,
    served_site,
    settings_for,
)
from gitrepos import EXAMPLE, Repo  # noqa: E402
from loopback import serve  # noqa: E402

OWNER, USER = "acme", "alice"
WAIT_SECONDS = 120.0


def _comment_to_pull(hub: Hub, sender: Sender, name: str) -> float:
    world = hub.world
    repo = world.add_repo(OWNER, name, {"train.py": EXAMPLE.read_bytes()})
    world.grant(OWNER, name, USER, "write")
    issue = world.open_issue(OWNER, name, "Track training")
    start = time.perf_counter()
    answer = sender.comment(repo, issue.number, "/wandb-inject", USER)
    answer.raise_for_status()
    while not world.pulls(OWNER, name):
        if time.perf_counter() - start > WAIT_SECONDS:
            raise RuntimeError(f"no pull request after {WAIT_SECONDS:.0f} s")
        time.sleep(0.01)
    return time.perf_counter() - start


def _local_job(folder: Path) -> float:
    repo = Repo(folder / "local")
    repo.root.mkdir()
    repo.git("init", "--quiet", "--initial-branch=main")
    repo.write("train.py", EXAMPLE.read_bytes())
    repo.commit_all("Initial commit")
    start = time.perf_counter()
    run_in_repository(repo.root, base=None, branch=None, dry_run=False)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-comment-") as scratch:
        folder = Path(scratch)
        world = new_world(make_keys(), folder / "github")
        with served_site(world) as site:
            hub = site.use(world)
            app = create_app(settings_for(hub, folder), workers=1)
            with serve(app) as app_url:
                sender = Sender(hub, app_url)
                app_times = [
                    _comment_to_pull(hub, sender, f"digits-{index}")
                    for index in range(args.repeat)
                ]
        local_times = []
        for index in range(args.repeat):
            run_folder = folder / f"local-{index}"
            run_folder.mkdir()
            local_times.append(_local_job(run_folder))
    app_median = statistics.median(app_times)
    local_median = statistics.median(local_times)
    rows = [
        ("comment to pull request", app_times),
        ("local job (wandb-inject run)", local_times),
    ]
    print(f"{'path':<30}{'median s':>10}{'best s':>10}")
    for name, times in rows:
        print(f"{name:<30}{statistics.median(times):>10.2f}{min(times):>10.2f}")
    print(
        f"the app adds {app_median - local_median:.2f} s to the job"
        f" ({app_median / local_median:.1f}x)"
    )
    if site.api.violations:
        problems = "\n".join(site.api.violations)
        raise SystemExit(f"the fake saw calls GitHub would reject:\n{problems}")


if __name__ == "__main__":
    main()
