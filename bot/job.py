"""The bot's job: find a checkout's training scripts, add W&B, describe the change."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.files import write_atomically
from bot.pr_body import LineUrl, Setup, render_body, render_title
from bot.repo_config import CONFIG_PATH, RepoConfig, load_repo_config
from bot.worktree import (
    check_new_branch,
    commit_files,
    create_branch,
    current_branch,
    repository_root,
    resolve_commit,
    temporary_worktree,
)
from injector import DEFAULT_LOG_EVERY, FileReport, InjectOptions, Status, inject_source
from injector.locate import Candidate, Scan, locate
from injector.options import default_project

# Rewriting takes tens of seconds per MB of source: past these, scripts are left
# alone with a reason rather than hold the worker for minutes.
MAX_SCRIPT_BYTES = 512 * 1024
MAX_JOB_BYTES = 4 * 1024 * 1024


@dataclass
class JobResult:
    """What the job did to one checkout; no changes, no title and no body."""

    config: RepoConfig
    scan: Scan | None
    reports: list[FileReport] = field(default_factory=list)
    title: str = ""
    body: str = ""

    @property
    def changed(self) -> list[FileReport]:
        return [report for report in self.reports if report.changed]

    def nothing_to_do(self) -> str | None:
        """Why there is no pull request to open, or None when there is one."""
        if not self.config.enabled:
            return f"disabled by `enabled: false` in {CONFIG_PATH}"
        if self.scan is not None and not self.scan.candidates:
            return "no training scripts found"
        if not self.changed:
            return "no training script needs a change"
        return None

    def commit_message(self, paths: list[str]) -> str:
        """The title, then the files the commit changes, one a line."""
        return self.title + "\n\n" + "\n".join(paths)


@dataclass(frozen=True)
class Overrides:
    """Settings a request gives, winning over the settings file's."""

    project: str | None = None
    paths: tuple[str, ...] = ()


@dataclass
class LocalRun:
    """The job run on a local repository: where it started and what it committed."""

    result: JobResult
    base: str
    branch: str
    commit: str | None

    def to_json(self) -> dict[str, Any]:
        result = self.result
        return {
            "branch": self.branch,
            "base": self.base,
            "commit": self.commit,
            "title": result.title,
            "body": result.body,
            "files": [report.to_json() for report in result.reports],
            "scan": result.scan.to_json() if result.scan else None,
            "nothing_to_do": result.nothing_to_do(),
        }


def run_job(
    workspace: Path,
    *,
    fallback_project: str,
    line_url: LineUrl | None = None,
    overrides: Overrides | None = None,
) -> JobResult:
    """Locate and inject every candidate under `workspace`, changing no file there.

    `fallback_project` names the W&B project when the settings file names none;
    `line_url` links each line the body mentions; `overrides` win over the
    settings file. Raises RepoConfigError.
    """
    config = load_repo_config(workspace)
    if not config.enabled:
        return JobResult(config, scan=None)
    overrides = overrides or Overrides()
    paths = overrides.paths or config.paths
    scan = locate(workspace, include=paths, exclude=config.exclude)
    project = overrides.project or config.project or fallback_project
    log_every = config.log_every or DEFAULT_LOG_EVERY
    options = InjectOptions(project=project, entity=config.entity, log_every=log_every)
    reports = _inject_all(workspace, scan.candidates, options)
    result = JobResult(config, scan, reports)
    if result.changed:
        setup = Setup(project, _project_source(config, overrides), config.entity)
        result.title = render_title(reports)
        result.body = render_body(reports, scan.excluded, setup, line_url)
    return result


def _project_source(config: RepoConfig, overrides: Overrides) -> str:
    if overrides.project:
        return f"from the request; {CONFIG_PATH} can set it for good"
    if config.project:
        return f"from {CONFIG_PATH}"
    return "the repository's name"


def _inject_all(
    workspace: Path, candidates: list[Candidate], options: InjectOptions
) -> list[FileReport]:
    reports = []
    budget = MAX_JOB_BYTES
    for candidate in candidates:
        report = _inject(workspace, candidate, options, budget)
        budget -= len(report.source)
        reports.append(report)
    return reports


def _inject(
    workspace: Path, candidate: Candidate, options: InjectOptions, budget: int
) -> FileReport:
    path = workspace / candidate.path
    # A link could lead outside the checkout, and writing through it would too.
    inside = path.resolve().is_relative_to(workspace.resolve())
    info = path.lstat()
    if not inside or not stat.S_ISREG(info.st_mode):
        return _skipped(
            candidate, "a link or not a regular file: links are not followed"
        )
    if info.st_size > MAX_SCRIPT_BYTES:
        limit = MAX_SCRIPT_BYTES // 1024
        return _skipped(candidate, f"larger than {limit} KiB, too big to rewrite")
    if info.st_size > budget:
        limit = MAX_JOB_BYTES >> 20
        reason = f"the job's {limit} MB for scripts was used up; ask for this one "
        return _skipped(candidate, reason + "alone with `paths=`")
    options = replace(options, role=candidate.role, links=candidate.links)
    return inject_source(path.read_bytes(), options, path=candidate.path)


def _skipped(candidate: Candidate, reason: str) -> FileReport:
    return FileReport(candidate.path, Status.SKIPPED, b"", b"", reason=reason)


def write_changes(workspace: Path, reports: list[FileReport]) -> list[str]:
    """Write each changed file's new source under `workspace`; return their paths."""
    changed = [report for report in reports if report.changed]
    for report in changed:
        write_atomically(workspace / report.path, report.new_source)
    return [report.path for report in changed]


def run_in_repository(
    repo_dir: Path, *, base: str | None, branch: str | None, dry_run: bool
) -> LocalRun:
    """Run the job on a commit of a local repository and, unless `dry_run`, commit
    the change onto a new branch, leaving the working tree and HEAD alone.

    Raises GitError and RepoConfigError.
    """
    root = repository_root(repo_dir)
    base_name = base or current_branch(root)
    base_commit = resolve_commit(root, base_name)
    branch_name = branch or f"wandb-inject/{base_name}"
    if not dry_run:
        check_new_branch(root, branch_name)
    # The worktree's folder has a temporary name: the project is named after ours.
    fallback_project = default_project(os.path.join(root, ".git"))
    with temporary_worktree(root, base_commit) as tree:
        result = run_job(tree, fallback_project=fallback_project)
        commit = None
        if not dry_run and result.nothing_to_do() is None:
            paths = write_changes(tree, result.reports)
            commit = commit_files(tree, paths, result.commit_message(paths))
            create_branch(root, branch_name, commit)
    return LocalRun(result, base_name, branch_name, commit)
