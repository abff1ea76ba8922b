"""From bytes to rewritten bytes: prefilter, parse, plan, apply, report."""

from __future__ import annotations

from injector.options import InjectOptions
from injector.result import FileReport, Status


def inject_source(
    source: bytes | str,
    options: InjectOptions | None = None,
    path: str = "<string>",
) -> FileReport:
    """Rewrite one script's source; never raises for any input."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    # Placeholder while the planner is written.
    return FileReport(path, Status.UNCHANGED, data, data, reason="not implemented yet")
