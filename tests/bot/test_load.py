"""A burst of deliveries through a real `serve` process: each answered exactly once."""

from __future__ import annotations

from pathlib import Path

import burst
from deliveries import Sender
from fakehub.fixtures import Hub
from processes import answering, environment, start, stop, stopped_cleanly

# Small enough for the suite; bench/bench_load.py fires 1,000 across 50.
REPOS, DELIVERIES, CLIENTS = 5, 20, 4
DRAIN_SECONDS = 120.0


def test_a_burst_across_repositories_is_answered_once_each_with_one_pr_per_repo(
    tmp_path: Path, github: Hub
) -> None:
    env = environment(tmp_path, github)
    url = f"http://{env['WANDB_INJECT_LISTEN']}"
    log_path = tmp_path / "serve.log"
    planned = burst.plan(Sender(github, url), REPOS, DELIVERIES, nothing_every=2)
    bodies = [each.body for each in planned]
    with log_path.open("w") as log:
        process = start("serve", env, log=log)
        try:
            answering(f"{url}/readyz", process)
            secret = github.world.app.webhook_secret
            _, posts = burst.fire(url, secret, bodies, CLIENTS)
            deliveries = burst.sent(planned, posts)
            burst.wait_drained(deliveries, log_path.read_text, DRAIN_SECONDS)
        finally:
            code, _ = stop(process)
    logs = log_path.read_text()

    assert stopped_cleanly(code, logs), logs[-3000:]
    assert burst.problems(deliveries, github.world, logs) == []
    assert burst.queue_left(env) == 0
    # Three of the five repositories have a script to track: one PR each.
    assert len(github.api.called("POST", "/repos/*/pulls")) == 3
