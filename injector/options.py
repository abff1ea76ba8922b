"""Settings that shape what the injector writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePath

# One wandb.log call with `.item()` costs about 0.3 ms on these machines
# (bench/bench_log_interval.py). Every 100 updates keeps that under 1% even of a
# 0.6 ms CPU step; a GPU step of tens of milliseconds barely notices it.
DEFAULT_LOG_EVERY = 100


class Role(StrEnum):
    """The part a file plays in its project's training run."""

    # Starts the run, logs its loops and finishes the run.
    SCRIPT = "script"
    # Starts and finishes the run; its loops live in modules it imports.
    ENTRY = "entry"
    # Holds loops of a run another file starts: logs only while a run exists.
    LOOP = "loop"


@dataclass(frozen=True)
class InjectOptions:
    """`project` is the W&B project written into `wandb.init` when the environment
    has no WANDB_PROJECT; None means the name of the folder holding the script.
    `links` are the paths, relative to the same root as the script's own path, of
    the modules an ENTRY's loops live in, or of the entries that import a LOOP."""

    project: str | None = None
    # The W&B entity (team or user) written beside the project; None leaves it
    # to WANDB_ENTITY or the account's default.
    entity: str | None = None
    log_every: int = DEFAULT_LOG_EVERY
    role: Role = Role.SCRIPT
    links: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.log_every < 1:
            raise ValueError(f"log_every must be at least 1, not {self.log_every}")

    def project_for(self, path: str) -> str:
        if self.project:
            return self.project
        return default_project(path)


def default_project(path: str) -> str:
    """The folder name of `path`, cleaned to what W&B accepts as a project name."""
    parent = PurePath(path).parent.name
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", parent).strip("-.")
    return cleaned or "training"
