"""Run a rewritten script with W&B offline, and read back the runs it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WANDB = Path(sys.executable).parent / "wandb"


@dataclass
class OfflineRun:
    """What one run recorded: its config and its history rows."""

    folder: Path
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def rows_with(self, key: str) -> list[dict[str, Any]]:
        return [row for row in self.history if key in row]


def run_offline(argv: list[str], workdir: Path, timeout: float = 240) -> str:
    """Run a command with W&B offline in `workdir`; its output, or a clear failure."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.pop("WANDB_PROJECT", None)
    done = subprocess.run(
        argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    return done.stdout


def read_runs(workdir: Path) -> list[OfflineRun]:
    runs = []
    for folder in sorted((workdir / "wandb").glob("offline-run-*")):
        [log] = folder.glob("run-*.wandb")
        inspected = subprocess.run(
            [str(WANDB), "leet", "inspect", "--json", str(log)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        runs.append(_parse(folder, inspected.stdout))
    return runs


def _parse(folder: Path, records: str) -> OfflineRun:
    run = OfflineRun(folder)
    for line in records.splitlines():
        record = json.loads(line)
        if record["type"] == "run":
            run.config.update(record["run"].get("config", {}).get("update", {}))
        elif record["type"] == "config":
            run.config.update(record["config"].get("update", {}))
        elif record["type"] == "history":
            run.history.append(record["history"]["item"])
    run.config.pop("_wandb", None)
    return run
