"""How a script runs on several processes, and which checks pick global rank 0."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from injector._matchers import call_name, small_statements
from injector.script import Script, Stmt
from injector.values import code_of

# The first match names the mechanism; order from specific to general.
_MECHANISMS = (
    ("mp.spawn", re.compile(r"(^|\.)spawn$")),
    ("DeepSpeed", re.compile(r"^deepspeed\.(initialize|init_distributed)$")),
    ("Accelerate", re.compile(r"(^|\.)Accelerator$")),
    ("Lightning Fabric", re.compile(r"(^|\.)Fabric$")),
    ("Horovod", re.compile(r"^(hvd|horovod\.\w+)\.init$")),
    ("torch_xla", re.compile(r"^(xm|xmp|torch_xla\.\w+)\.")),
    ("JAX multi-process", re.compile(r"^jax\.distributed\.initialize$")),
    ("FSDP", re.compile(r"(^|\.)(FullyShardedDataParallel|FSDP)$")),
    ("DDP", re.compile(r"(^|\.)(DistributedDataParallel|DDP)$")),
    ("torch.distributed", re.compile(r"(^|\.)init_process_group$")),
)
# Calls that set the processes up; before them no rank is known.
_SETUP = re.compile(
    r"(^|\.)(init_process_group|init_distributed)$|^(hvd|horovod\.\w+)\.init$|"
    r"^deepspeed\.initialize$|^jax\.distributed\.initialize$"
)
_RANK_ENV = re.compile(r"""["'](RANK|LOCAL_RANK|WORLD_SIZE)["']""")
# Text of a check on a process's rank or role, and what makes one per node.
_RANK_CHECK = re.compile(
    r"rank\w*\s*(==|<=|<)\s*0|rank\(\)\s*==\s*0|is_main_process|is_master|"
    r"master_process|is_main\b|is_rank_0|is_global_zero|is_local_main_process|"
    r"\b(gpu|local_rank|args\.gpu|device_id)\s*==\s*0"
)
_PER_NODE = re.compile(r"local|gpu|device_id|% *\w*gpus|per_node", re.IGNORECASE)
# A rank built from the node's rank, or read from the launcher, is global anyway.
_GLOBAL = re.compile(r"node_rank|get_rank|\bRANK\b|global_rank|world", re.IGNORECASE)
ENV_GUARD = 'int(os.environ.get("RANK", "0")) == 0'


@dataclass(frozen=True)
class RankCheck:
    """A rank-0 check the script itself makes, and whether it is global."""

    code: str
    stmt: Stmt
    is_global: bool


@dataclass
class Distribution:
    """The multi-process mechanism seen, where, and the script's own rank checks."""

    mechanism: str
    evidence: list[Stmt] = field(default_factory=list)
    setup: list[Stmt] = field(default_factory=list)
    checks: list[RankCheck] = field(default_factory=list)


def find_distribution(script: Script, source: bytes) -> Distribution | None:
    if not _mentions_processes(source):
        return None
    found: Distribution | None = None
    rank = len(_MECHANISMS)
    for stmt in script.statements:
        for call in stmt.calls:
            mechanism = _mechanism(call_name(call) or "")
            if mechanism is None:
                continue
            found = found or Distribution(mechanism)
            order = [name for name, _ in _MECHANISMS].index(mechanism)
            if order < rank:
                found.mechanism, rank = mechanism, order
            if len(found.evidence) < 3 and stmt not in found.evidence:
                found.evidence.append(stmt)
            if _SETUP.search(call_name(call) or "") and stmt not in found.setup:
                found.setup.append(stmt)
    if found is None and _RANK_ENV.search(source.decode("latin-1")):
        found = Distribution("torchrun environment")
        found.evidence = [s for s in script.statements if _reads_rank_env(s)][:3]
    if found is not None:
        found.checks = _rank_checks(script)
    return found


def _mentions_processes(source: bytes) -> bool:
    return any(
        marker in source
        for marker in (
            b"rank",
            b"RANK",
            b"spawn",
            b"deepspeed",
            b"Accelerator",
            b"Fabric",
            b"xm.",
            b"torch_xla",
            b"jax.distributed",
            b"hvd.",
        )
    )


def _mechanism(name: str) -> str | None:
    for mechanism, pattern in _MECHANISMS:
        if pattern.search(name):
            return mechanism
    return None


def _reads_rank_env(stmt: Stmt) -> bool:
    return any(
        _RANK_ENV.search(code_of(small)) for small in small_statements(stmt.node)
    )


def _rank_checks(script: Script) -> list[RankCheck]:
    """Conditions in `if` statements that single out one process."""
    checks: list[RankCheck] = []
    seen: set[str] = set()
    for stmt in script.statements:
        if not isinstance(stmt.node, cst.If):
            continue
        for part in _conditions(stmt.node.test):
            code = " ".join(code_of(part).split())
            if code in seen or not _RANK_CHECK.search(code):
                continue
            seen.add(code)
            meaning = code + " " + _definition_text(script, part)
            per_node = _PER_NODE.search(meaning) and not _GLOBAL.search(meaning)
            checks.append(RankCheck(code, stmt, not per_node))
    return checks


def _definition_text(script: Script, check: cst.BaseExpression) -> str:
    """What a helper returns, or what a flag was set to: `is_main_process()` is only
    as global as the rank it compares."""
    if isinstance(check, cst.UnaryOperation):
        check = check.expression
    if isinstance(check, cst.Call) and isinstance(check.func, cst.Name):
        scopes = script.functions.get(check.func.value, [])
        return " ".join(
            code_of(small.value)
            for scope in scopes
            for stmt in script.in_scope(scope)
            for small in small_statements(stmt.node)
            if isinstance(small, cst.Return) and small.value is not None
        )
    if isinstance(check, cst.Name):
        return " ".join(
            code_of(small.value)
            for stmt in script.statements
            for small in small_statements(stmt.node)
            if isinstance(small, cst.Assign)
            and any(code_of(t.target).strip() == check.value for t in small.targets)
        )
    return ""


def _conditions(test: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The parts of `a and b and c`, each a check of its own."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _conditions(test.left) + _conditions(test.right)
    return [test]
