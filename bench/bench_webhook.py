"""Webhook acknowledgement latency and throughput on loopback, against a bare endpoint.

The app under test checks each delivery's signature, routes it and queues it
durably (SQLite, fsync on commit) before answering. The baseline is the same
server with an endpoint that only reads the body and answers, so the ratio is
what verification and enqueueing cost. Deliveries are GitHub's published
examples (npm @octokit/webhooks-examples, fetched by the tests' helper).
Run: python bench/bench_webhook.py [--deliveries N] [--clients N]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import create_app
from bot.settings import Settings

# The tests' helpers: GitHub's example payloads, and a server on loopback. Their
# folder goes on the path only once the project's modules are loaded: its
# tests/injector would hide an injector not imported yet.
ROOT = Path(__file__).resolve().parents[1]
sys.path += [str(ROOT / "tests"), str(ROOT / "tests" / "bot")]
import webhook_payloads as payloads  # noqa: E402
from loopback import serve  # noqa: E402

GOAL_P99_MS = 50.0
# Any PEM key will do: nothing here talks to GitHub.
UNUSED_KEY = "-----BEGIN RSA PRIVATE KEY-----\nunused\n-----END RSA PRIVATE KEY-----"


async def _bare_endpoint(request: Request) -> Response:
    await request.body()
    return JSONResponse({"outcome": "queued", "reason": ""}, status_code=202)


def _bare_app() -> Starlette:
    return Starlette(routes=[Route("/webhook", _bare_endpoint, methods=["POST"])])


def _settings(data_dir: Path) -> Settings:
    return Settings.from_environment(
        {
            "WANDB_INJECT_APP_ID": "1",
            "WANDB_INJECT_PRIVATE_KEY": UNUSED_KEY,
            "WANDB_INJECT_WEBHOOK_SECRET": payloads.SECRET,
            "WANDB_INJECT_DATA_DIR": str(data_dir),
        }
    )


_COMMENT_IDS = itertools.count(1)


@contextmanager
def _client(base_url: str) -> Iterator[Callable[[], float]]:
    """A function that posts one new signed delivery and returns its latency."""
    payload = payloads.comment_created("/wandb-inject")
    with httpx.Client(base_url=base_url) as client:

        def post() -> float:
            # The app queues each comment once: every delivery is a new comment.
            payload["comment"]["id"] = next(_COMMENT_IDS)
            body = payloads.encode(payload)
            headers = payloads.signed_headers(body, "issue_comment", str(uuid.uuid4()))
            start = time.perf_counter()
            response = client.post("/webhook", content=body, headers=headers)
            elapsed = time.perf_counter() - start
            if response.status_code != 202:
                raise RuntimeError(f"{response.status_code}: {response.text}")
            return elapsed

        yield post


def _measure(base_url: str, deliveries: int, clients: int) -> tuple[list[float], float]:
    """Latencies of `deliveries` posted one at a time, then deliveries per second
    with `clients` posting at once, each on its own keep-alive connection."""
    with _client(base_url) as post:
        for _ in range(20):
            post()
        latencies = [post() for _ in range(deliveries)]
    with ExitStack() as stack, ThreadPoolExecutor(clients) as pool:
        posts = [stack.enter_context(_client(base_url)) for _ in range(clients)]
        start = time.perf_counter()
        list(pool.map(lambda index: posts[index % clients](), range(deliveries)))
        rate = deliveries / (time.perf_counter() - start)
    return latencies, rate


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _row(name: str, latencies: list[float], rate: float) -> str:
    p50 = _percentile(latencies, 0.50) * 1000
    p99 = _percentile(latencies, 0.99) * 1000
    mean = statistics.fmean(latencies) * 1000
    return f"{name:<10}{p50:>9.2f}{p99:>9.2f}{mean:>9.2f}{rate:>12.0f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as folder:
        app = create_app(_settings(Path(folder)))
        with serve(_bare_app()) as base_url:
            bare = _measure(base_url, args.deliveries, args.clients)
        with serve(app) as base_url:
            ours = _measure(base_url, args.deliveries, args.clients)
    print(f"{args.deliveries} deliveries; throughput with {args.clients} clients")
    print(f"{'endpoint':<10}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'per second':>12}")
    print(_row("bare", *bare))
    print(_row("app", *ours))
    p99 = _percentile(ours[0], 0.99) * 1000
    ratio = p99 / (_percentile(bare[0], 0.99) * 1000)
    verdict = "met" if p99 < GOAL_P99_MS else "NOT met"
    print(f"app p99 is {ratio:.1f}x the bare endpoint's")
    print(f"goal: p99 under {GOAL_P99_MS:.0f} ms -> {verdict}")


if __name__ == "__main__":
    main()
