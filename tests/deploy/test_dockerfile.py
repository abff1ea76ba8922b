"""deploy/Dockerfile, parsed; its health check and stop signal tried on the app."""

# The image itself is not built in these tests: CI has no Docker daemon, and these
# machines cannot pull python:3.11-slim. `docker build -f deploy/Dockerfile .`
# from the root builds it where both are at hand.

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from deployment import (
    DOCKERFILE,
    ROOT,
    dockerfile,
    environment_tool,
    sqlite_settings,
)
from fakehub.fixtures import make_keys
from loopback import free_port, serve
from support import eventually

from bot.app import create_app
from bot.queue import SHUTDOWN_SECONDS

# Packages that compile things: none belongs in the image that runs the app.
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|clang|make|build-essential|cmake|[\w.+-]+-dev)\b"
)


def final_stage() -> list[dict[str, Any]]:
    """The instructions after the last FROM: what the runtime image is made of."""
    structure = dockerfile().structure
    starts = [i for i, line in enumerate(structure) if line["instruction"] == "FROM"]
    return list(structure[starts[-1] :])


def instructions(name: str) -> list[str]:
    return [line["value"] for line in final_stage() if line["instruction"] == name]


def test_the_runtime_is_a_slim_python_apart_from_the_builder() -> None:
    parsed = dockerfile()
    *builders, runtime = parsed.parent_images
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    oldest = project["requires-python"].removeprefix(">=")
    version = re.fullmatch(r"python:(\d+\.\d+)-slim(-\w+)?", runtime)

    assert builders, "wheels are built in a stage of their own"
    assert version, f"{runtime} is not a slim Python image"
    assert version[1] == oldest, "the oldest Python the app supports, as CI runs"


def test_the_runtime_installs_no_build_tools_and_keeps_no_caches() -> None:
    runs = instructions("RUN")
    pip_installs = [run for run in runs if "pip install" in run]
    apt_installs = [run for run in runs if "apt-get install" in run]

    assert [BUILD_TOOLS.findall(run) for run in runs] == [[] for _ in runs]
    assert len(pip_installs) == 1
    assert "--no-cache-dir" in pip_installs[0]
    assert "--no-index" in pip_installs[0]
    # Only the app's own dependencies: no [test] or [run] extras.
    assert pip_installs[0].split()[-1] == "wandb-inject"
    assert all("rm -rf /var/lib/apt/lists/*" in run for run in apt_installs)


def builder_stage() -> list[dict[str, Any]]:
    structure = dockerfile().structure
    starts = [i for i, line in enumerate(structure) if line["instruction"] == "FROM"]
    return list(structure[: starts[-1]])


def test_the_builder_has_what_the_wheel_needs() -> None:
    stage = builder_stage()
    copied = {
        source
        for line in stage
        if line["instruction"] == "COPY"
        for source in line["value"].split()[:-1]
    }
    runs = " ".join(line["value"] for line in stage if line["instruction"] == "RUN")
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    sources = [
        source
        for module in setuptools["setuptools"].get("ext-modules", [])
        for source in module["sources"]
    ]
    links = [p for p in (ROOT / "bot").rglob("*") if p.is_symlink()]

    # The C extension is optional: without a compiler the wheel builds, slower.
    assert all(source.split("/")[0] in copied for source in sources)
    assert not sources or "gcc" in BUILD_TOOLS.findall(runs)
    for link in links:
        target = link.resolve().relative_to(ROOT)
        assert target.parts[0] in copied, f"{link} points at {target}, not copied"


def test_it_runs_as_a_fixed_non_root_user() -> None:
    (user,) = instructions("USER")
    uid, _, gid = user.partition(":")

    # Numeric, or Kubernetes' runAsNonRoot cannot tell it is not root.
    assert uid.isdigit() and int(uid) > 0
    assert gid.isdigit() and int(gid) > 0


def test_the_entrypoint_is_the_console_script_pyproject_declares() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (entrypoint,) = instructions("ENTRYPOINT")

    assert json.loads(entrypoint) == ["wandb-inject"]
    assert "wandb-inject" in project["scripts"]


def test_it_exposes_the_port_it_listens_on_and_keeps_data_on_a_volume() -> None:
    environment = dockerfile().envs
    (exposed,) = instructions("EXPOSE")
    (volume,) = instructions("VOLUME")

    assert environment["WANDB_INJECT_LISTEN"].rpartition(":")[2] == exposed
    assert volume == environment["WANDB_INJECT_DATA_DIR"]


def healthcheck(listen: str) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, run here as Docker would run it."""
    (check,) = instructions("HEALTHCHECK")
    command = json.loads(check.partition(" CMD ")[2])
    assert command[0] == "python", "the check needs no curl"
    return subprocess.run(
        [sys.executable, *command[1:]],
        env={"WANDB_INJECT_LISTEN": listen},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_healthcheck_passes_while_the_app_answers(tmp_path: Path) -> None:
    with serve(create_app(sqlite_settings(tmp_path))) as url:
        done = healthcheck(f"0.0.0.0:{url.rpartition(':')[2]}")

    assert done.returncode == 0, done.stderr


def test_the_healthcheck_fails_with_nothing_listening() -> None:
    done = healthcheck(f"0.0.0.0:{free_port()}")

    assert done.returncode != 0
    assert "Connection refused" in done.stderr


def test_the_stop_signal_lets_the_worker_finish_gracefully(tmp_path: Path) -> None:
    (stop_signal,) = instructions("STOPSIGNAL")
    key = tmp_path / "app.pem"
    key.write_text(make_keys().private)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_INJECT")}
    env |= {
        "WANDB_INJECT_APP_ID": "1",
        "WANDB_INJECT_PRIVATE_KEY_PATH": str(key),
        "WANDB_INJECT_WEBHOOK_SECRET": "unused: no delivery comes",
        "WANDB_INJECT_DATA_DIR": str(tmp_path / "data"),
    }
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        # huey logs its start before it installs its handlers, SIGHUP's last.
        eventually(lambda: catches(worker.pid, signal.SIGHUP), "the worker's handlers")
        worker.send_signal(signal.Signals[stop_signal])
        code = worker.wait(timeout=SHUTDOWN_SECONDS + 10)
    finally:
        worker.kill()
        worker.wait()

    assert code == 0
    assert "Shutting down gracefully" in log.read_text()


def catches(pid: int, signum: int) -> bool:
    """Whether the process handles the signal itself (from Linux's /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def test_hadolint_finds_nothing() -> None:
    hadolint = environment_tool("hadolint")
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (done.returncode, done.stdout) == (0, "")


def test_dockerignore_lets_in_what_the_builder_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    copies = [
        line["value"].split()[:-1]
        for line in dockerfile().structure
        if line["instruction"] == "COPY"
    ]
    sources = {source.rstrip("/") for copy in copies for source in copy}

    assert sources == {"pyproject.toml", "README.md", "app.yml", "bot", "injector"}
    assert {f"!{source}" for source in sources} <= {line.rstrip("/") for line in ignore}
