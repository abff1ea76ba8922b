"""Add Weights & Biases tracking to Python training scripts by rewriting them."""

from __future__ import annotations

from injector.options import DEFAULT_LOG_EVERY, InjectOptions, Role
from injector.pipeline import inject_source
from injector.result import ConfigInfo, FileReport, Insertion, Omission, Point, Status

__all__ = [
    "DEFAULT_LOG_EVERY",
    "ConfigInfo",
    "FileReport",
    "InjectOptions",
    "Insertion",
    "Omission",
    "Point",
    "Role",
    "Status",
    "inject_source",
]
