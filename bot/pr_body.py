"""The pull request's title and Markdown body, written for the engineer reviewing it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from bot.repo_config import CONFIG_PATH
from injector import FileReport, Point, Status
from injector.locate import Excluded
from injector.result import DistributedInfo

# The bot finds its own pull requests (and comments) by this first line.
MARKER = "<!-- wandb-inject -->"
TITLE = "Track training with Weights & Biases"
RECREATE_COMMAND = "/wandb-inject recreate"
# GitHub refuses a pull request body longer than this many characters.
MAX_BODY_LENGTH = 65_536
# Past this many, excluded files are counted rather than listed.
# Files left out for the same kind of reason beyond this are counted, not listed.
MAX_LISTED_EXCLUDED = 3

# Turns a path and a 1-based line of the new file into a link; None: no links.
LineUrl = Callable[[str, int], str]

POINT_NAMES = {
    Point.IMPORT: "imports",
    Point.INIT: "run start",
    Point.TRAIN_LOG: "training metrics",
    Point.EVAL_LOG: "evaluation metrics",
    Point.FINISH: "run end",
    Point.INTEGRATION: "framework integration",
}


@dataclass(frozen=True)
class Setup:
    """Where runs are sent: the project (and where it came from) and the entity."""

    project: str
    project_source: str
    entity: str | None = None


def render_title(reports: Sequence[FileReport]) -> str:
    changed = [report.path for report in reports if report.changed]
    if len(changed) == 1:
        return f"{TITLE} in {_printable(changed[0])}"
    return f"{TITLE} in {len(changed)} scripts"


def render_body(
    reports: Sequence[FileReport],
    excluded: Sequence[Excluded],
    setup: Setup,
    line_url: LineUrl | None = None,
) -> str:
    """The body; the inserted code is left out when it would make it too long."""
    body = _body(reports, excluded, setup, line_url, show_code=True)
    if len(body) > MAX_BODY_LENGTH:
        body = _body(reports, excluded, setup, line_url, show_code=False)
    if len(body) > MAX_BODY_LENGTH:
        cut = "\n\n(Cut short: the rest is in the diff.)\n"
        body = body[: MAX_BODY_LENGTH - len(cut)] + cut
    return body


def _body(
    reports: Sequence[FileReport],
    excluded: Sequence[Excluded],
    setup: Setup,
    line_url: LineUrl | None,
    *,
    show_code: bool,
) -> str:
    changed = [report for report in reports if report.changed]
    sections = [MARKER, _summary(changed), _table(changed)]
    for report in changed:
        sections.append(_file_section(report, line_url, show_code=show_code))
    left_alone = list(left_alone_lines(reports, excluded))
    if left_alone:
        sections.append("### Left alone\n\n" + "\n".join(left_alone))
    sections += [_setup(setup), _controls()]
    return "\n\n".join(sections) + "\n"


def _summary(changed: Sequence[FileReport]) -> str:
    count = len(changed)
    scripts = f"{count} training script{'' if count == 1 else 's'}"
    return (
        f"This adds [Weights & Biases](https://wandb.ai) tracking to {scripts}: "
        "each run records its configuration and training metrics, and evaluation "
        "metrics where the script computes them. Every insertion "
        "is listed below with its line and the reason it is there."
    )


def _table(changed: Sequence[FileReport]) -> str:
    rows = [
        "| File | Framework | Config | Distributed guard |",
        "| --- | --- | --- | --- |",
    ]
    for report in changed:
        config = report.config
        config_cell = f"{config.kind}, {_code(config.expression)}" if config else "—"
        guard = report.distributed
        guard_cell = f"{_code(guard.guard)} ({guard.mechanism})" if guard else "—"
        cells = [_code(report.path), report.framework or "—", config_cell, guard_cell]
        rows.append(
            "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
        )
    return "\n".join(rows)


def _file_section(
    report: FileReport, line_url: LineUrl | None, *, show_code: bool
) -> str:
    lines = [f"### {_code(report.path)}", ""]
    for insertion in report.insertions:
        where = _location(report.path, insertion.line, line_url)
        name = POINT_NAMES[insertion.point]
        code = insertion.code.strip("\n")
        if show_code and "\n" not in code:
            lines.append(f"- {where} ({name}): {_code(code)} — {insertion.reason}")
        else:
            lines.append(f"- {where} ({name}): {insertion.reason}")
            if show_code:
                lines.append(_indented(_fenced(code)))
    for omission in report.omissions:
        lines.append(f"- No {POINT_NAMES[omission.point]}: {omission.reason}")
    if report.distributed:
        lines += ["", _distributed(report.path, report.distributed, line_url)]
    return "\n".join(lines)


def _distributed(path: str, info: DistributedInfo, line_url: LineUrl | None) -> str:
    evidence = ", ".join(
        _location(path, line, line_url) for line in info.evidence_lines
    )
    guard_at = ""
    if info.guard_line is not None:
        guard_at = f" ({_location(path, info.guard_line, line_url)})"
    text = (
        f"**One run, not one per process.** This script runs as several processes "
        f"({info.mechanism}, seen at {evidence}). W&B logs from the process where "
        f"{_code(info.guard)} holds{guard_at}; {info.guard_form}."
    )
    for check, reason in info.rejected:
        text += f"\n- Not used: {_code(check)}, {reason}."
    return text


def with_note(body: str, note: str) -> str:
    """The body with `note` as its last line; a body already at GitHub's limit
    goes without the note rather than fail."""
    if len(body) + len(note) + 1 > MAX_BODY_LENGTH:
        return body
    return f"{body}\n{note}\n"


def left_alone_lines(
    reports: Sequence[FileReport], excluded: Sequence[Excluded]
) -> Iterator[str]:
    """One Markdown list item per file not changed, or per group of excluded files."""
    for report in reports:
        if report.status is not Status.CHANGED:
            reason = _one_line(report.reason)
            yield f"- {_code(report.path)} ({report.status}): {reason}"
    yield from _excluded_lines(excluded)


def _excluded_lines(excluded: Sequence[Excluded]) -> Iterator[str]:
    """One line per file, except where many share a reason (a tests folder, say):
    those are counted, with a few of their paths."""
    groups: dict[str, list[Excluded]] = {}
    for item in excluded:
        groups.setdefault(_reason_kind(item.reason), []).append(item)
    for kind, items in groups.items():
        if len(items) <= MAX_LISTED_EXCLUDED:
            for item in items:
                yield f"- {_code(item.path)}: {_one_line(item.reason)}"
            continue
        reasons = {item.reason for item in items}
        reason = _one_line(items[0].reason) if len(reasons) == 1 else kind
        shown = ", ".join(_code(item.path) for item in items[:MAX_LISTED_EXCLUDED])
        more = len(items) - MAX_LISTED_EXCLUDED
        yield (
            f"- {len(items)} files, {reason}: {shown} and {more} more "
            "(`wandb-inject scan` lists them)"
        )


def _reason_kind(reason: str) -> str:
    """`a test` of `a test (tests/ folder)`; `a library` of `a library: calls ...`."""
    return re.split(r"[:(]", reason, maxsplit=1)[0].strip()


def _setup(setup: Setup) -> str:
    entity = (
        f"Runs go to the entity {_code(setup.entity)}; `WANDB_ENTITY` in the "
        "environment wins."
        if setup.entity
        else "Runs go to the API key owner's default entity; "
        "`WANDB_ENTITY` changes that."
    )
    return (
        "### Before merging\n\n"
        "- Add `WANDB_API_KEY` as a secret of the CI or cluster jobs that train "
        "(never commit it). Without a key, `wandb.init` stops a non-interactive "
        "job; `WANDB_MODE=offline` records locally, `WANDB_MODE=disabled` turns "
        "logging off.\n"
        f"- Runs log to the project {_code(setup.project)} ({setup.project_source}); "
        f"`WANDB_PROJECT` in the environment wins. {entity}\n"
        f"- `project`, `entity`, `paths`, `exclude` and `log_every` can be set in "
        f"`{CONFIG_PATH}`."
    )


def _controls() -> str:
    return (
        "### Redo or stop\n\n"
        f"- Comment `{RECREATE_COMMAND}` to rebuild this pull request from the "
        "base branch, for example after changing the settings file.\n"
        "- To decline, close it without merging; add `enabled: false` to "
        f"`{CONFIG_PATH}` so the bot does not open another."
    )


def _location(path: str, line: int, line_url: LineUrl | None) -> str:
    text = f"{path}:{line}"
    if line_url is None:
        return _code(text)
    return f"[{_code(text)}]({line_url(path, line)})"


def _printable(text: str) -> str:
    """`text` safe to show and to send as JSON, for names taken from a repository.

    Bytes that are not UTF-8 (kept as surrogates) become U+FFFD, and newlines,
    control and invisible characters are spelled out as escapes.
    """
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _code(text: str) -> str:
    """An inline code span that survives backticks inside the text."""
    text = _printable(text)
    fence = "`" * (_longest_backtick_run(text) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _fenced(code: str) -> str:
    fence = "`" * max(3, _longest_backtick_run(code) + 1)
    return f"{fence}python\n{code}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall("`+", text)), default=0)


def _indented(block: str) -> str:
    # Indented under its list item, a code block stays part of that item.
    return "\n".join(f"  {line}" if line else "" for line in block.splitlines())


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) or (
        "no reason given"
    )
