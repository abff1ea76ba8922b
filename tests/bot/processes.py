"""`wandb-inject serve` and `worker` as real processes, for tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import httpx
from fakehub.fixtures import Hub
from loopback import free_port
from support import eventually

START_SECONDS = 30.0


def environment(folder: Path, hub: Hub, **more: str) -> dict[str, str]:
    """Settings for the app registered on the fake, its key in a file."""
    app = hub.world.app
    key_file = folder / "app.pem"
    key_file.write_text(app.private_key)
    variables = {
        "WANDB_INJECT_APP_ID": str(app.id),
        "WANDB_INJECT_PRIVATE_KEY_PATH": str(key_file),
        "WANDB_INJECT_WEBHOOK_SECRET": app.webhook_secret,
        "WANDB_INJECT_GITHUB_API_URL": hub.url,
        "WANDB_INJECT_DATA_DIR": str(folder / "data"),
        "WANDB_INJECT_LISTEN": f"127.0.0.1:{free_port()}",
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_INJECT")}
    return clean | variables | more


def start(
    command: str, env: dict[str, str], *options: str, log: IO[str] | None = None
) -> subprocess.Popen[str]:
    """The command running; its output piped, or written to `log` if given.

    A long run needs `log`: nobody reads the pipe until the process stops, and
    a full pipe would stall it.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", command, *options],
        env=env,
        stdout=subprocess.PIPE if log is None else log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, as a container runtime sends it; the exit code and the output."""
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=START_SECONDS)
    return process.returncode, output or ""


def log_entries(output: str) -> list[dict[str, object]]:
    """The JSON log line objects, failing on any line that is not one."""
    return [json.loads(line) for line in output.splitlines()]


def stopped_cleanly(code: int, output: str) -> bool:
    # uvicorn shuts down, then dies of the signal it caught, as the default
    # handler would have: the exit status still says SIGTERM.
    return code in (0, -signal.SIGTERM) and "Traceback" not in output


def answering(url: str, process: subprocess.Popen[str]) -> httpx.Response:
    """The first answer from `url`, once the process serves it."""
    response: list[httpx.Response] = []

    def answered() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"it exited: {process.communicate()[0]}")
        try:
            response.append(httpx.get(url, timeout=1))
        except httpx.TransportError:
            return False
        return True

    eventually(answered, url, START_SECONDS)
    return response[0]
