"""Choose the check that keeps a distributed script's tracking to global rank 0.

The script's own check wins when it is global and can be evaluated where the run
starts; a per-node check (`LOCAL_RANK == 0`, `gpu == 0`) is rejected, since under
several nodes it is true once per node. Otherwise the launcher's `RANK` variable,
which torchrun, DeepSpeed and Accelerate set, decides. Other ranks get a disabled
run, so every later wandb call is a no-op there and needs no guard of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from injector._matchers import call_name
from injector.distributed import ENV_GUARD, Distribution, RankCheck
from injector.points import Plan
from injector.points.loop_facts import resolvable
from injector.script import Stmt

DESCRIPTION = "Record from global rank 0 only, reusing the script's own check."
FORM = "the run is created disabled on every other rank"
_NEEDS_GROUP = re.compile(r"dist\.get_rank\(\)|torch\.distributed\.get_rank\(\)")


@dataclass
class Guard:
    """The chosen check, why, and the checks that were turned down."""

    code: str
    why: str
    evidence: tuple[cst.BaseStatement, ...] = ()
    rejected: list[tuple[str, str]] = field(default_factory=list)


def choose_guard(plan: Plan, at: Stmt, fallback: Guard | None = None) -> Guard | None:
    """The guard for a run started at `at`; `fallback` replaces the launcher's RANK
    where no launcher sets it (workers started by mp.spawn)."""
    distribution = plan.distribution
    if distribution is None:
        return None
    rejected: list[tuple[str, str]] = []
    for check in distribution.checks:
        problem = _problem(plan, check, at, group_ready=fallback is not None)
        if problem is None:
            why = f"the script's own global rank-0 check `{check.code}`, on line {{0}}"
            return Guard(check.code, why, (check.stmt.node,), rejected)
        rejected.append((check.code, problem))
    fallback = fallback or _own_rank_call(distribution)
    if fallback is not None:
        return Guard(fallback.code, fallback.why, fallback.evidence, rejected)
    plan.need_import("os")
    why = "no global rank-0 check of the script's own is usable where the run starts"
    return Guard(ENV_GUARD, why, (), rejected)


def _own_rank_call(distribution: Distribution) -> Guard | None:
    """The global rank-0 call of a mechanism whose launcher sets no RANK."""
    if distribution.mechanism == "JAX multi-process":
        why = "JAX's launchers set no RANK; `jax.process_index()` is the global one"
        return Guard("jax.process_index() == 0", why)
    if distribution.mechanism == "torch_xla":
        # `xm.get_ordinal()` is global across hosts; `is_master_ordinal()` is per host.
        for stmt in distribution.evidence:
            for call in stmt.calls:
                owner = (call_name(call) or "").rpartition(".")[0]
                if owner in ("xm", "torch_xla.core.xla_model"):
                    why = f"`{owner}.get_ordinal()` is the global rank under torch_xla"
                    return Guard(f"{owner}.get_ordinal() == 0", why)
        return None
    if distribution.mechanism != "Horovod":
        return None
    for stmt in distribution.evidence:
        for call in stmt.calls:
            name = call_name(call) or ""
            if name.endswith(".init"):
                owner = name.removesuffix(".init")
                why = f"horovodrun sets no RANK; `{owner}.rank()` is the global rank"
                return Guard(f"{owner}.rank() == 0", why)
    return None


def _problem(
    plan: Plan, check: RankCheck, at: Stmt, group_ready: bool = False
) -> str | None:
    """Why a check cannot serve as the guard, or None when it can."""
    if not check.is_global:
        return "per node: true once on every node, so it would start one run per node"
    if _NEEDS_GROUP.search(check.code) and not group_ready:
        return "`get_rank()` fails before the process group exists"
    if not resolvable(check.code, at):
        return "not defined where the run starts"
    for name in _local_names(check.code, at):
        if plan.kinds.last_assignment(name, at) is None:
            return f"`{name}` is only set after the run starts"
    return None


def _local_names(code: str, at: Stmt) -> list[str]:
    """Names in `code` that `at`'s function binds itself (not its parameters)."""
    names = re.findall(r"\b[A-Za-z_]\w*\b", code)
    scope = at.scope
    return [
        n
        for n in names
        if n in scope.bound and n not in scope.params and n not in scope.imported
    ]
