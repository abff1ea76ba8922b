"""Settings that shape what the injector writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

# wandb.log costs tens of microseconds plus one device sync for `.item()`;
# every 50 optimizer steps keeps that far below 1% of even a fast step, and
# matches Lightning's default logging interval.
DEFAULT_LOG_EVERY = 50


@dataclass(frozen=True)
class InjectOptions:
    """`project` is the W&B project written into `wandb.init` when the environment
    has no WANDB_PROJECT; None means the name of the folder holding the script."""

    project: str | None = None
    log_every: int = DEFAULT_LOG_EVERY

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
