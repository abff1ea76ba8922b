"""What W&B tracking a script already has, so nothing is added twice."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from injector._matchers import call_name, dotted, keyword_arg
from injector.script import Script, Stmt

# Framework hooks that send metrics to W&B without any wandb.* call in the script.
_INTEGRATIONS = (
    "WandbLogger",
    "WandbMetricsLogger",
    "WandbModelCheckpoint",
    "WandbCallback",
)
_TRACKER_KEYWORDS = ("report_to", "log_with")


@dataclass
class Tracking:
    """Existing wandb imports, calls and integrations, by statement."""

    aliases: set[str] = field(default_factory=set)
    imports: list[Stmt] = field(default_factory=list)
    inits: list[Stmt] = field(default_factory=list)
    logs: list[Stmt] = field(default_factory=list)
    finishes: list[Stmt] = field(default_factory=list)
    integrations: list[Stmt] = field(default_factory=list)
    syncs_tensorboard: bool = False

    @property
    def has_top_level_import(self) -> bool:
        return any(s.scope.kind == "module" and not s.parents for s in self.imports)

    @property
    def init_is_conditional(self) -> bool:
        return any(
            isinstance(p.node, cst.If | cst.Try) for s in self.inits for p in s.parents
        )


def _is_wandb_string(value: cst.BaseExpression | None) -> bool:
    if isinstance(value, cst.SimpleString):
        return "wandb" in value.value
    if isinstance(value, cst.List | cst.Tuple):
        return any(_is_wandb_string(e.value) for e in value.elements)
    return False


def find_tracking(script: Script, source: bytes) -> Tracking:
    found = Tracking()
    if b"wandb" not in source and b"Wandb" not in source:
        return found
    for stmt in script.statements:
        _note_imports(stmt, found)
    if not any("wandb" in s.bound or "wandb" in s.params for s in script.scopes):
        # Bound by a star import, or nowhere: the script means W&B all the same.
        found.aliases.add("wandb")
    for stmt in script.statements:
        for call in stmt.calls:
            _note_call(stmt, call, found)
    if b"report_to" in source:
        found.integrations.extend(
            s for s in script.statements if _adds_wandb_tracker(s)
        )
    return found


def _note_imports(stmt: Stmt, found: Tracking) -> None:
    node = stmt.node
    if not isinstance(node, cst.SimpleStatementLine):
        return
    for small in node.body:
        if isinstance(small, cst.Import):
            for alias in small.names:
                module = dotted(alias.name) or ""
                if module != "wandb" and not module.startswith("wandb."):
                    continue
                asname = alias.asname
                if asname is None:
                    # `import wandb.sdk` binds `wandb` too.
                    found.aliases.add("wandb")
                elif module == "wandb" and isinstance(asname.name, cst.Name):
                    found.aliases.add(asname.name.value)
                found.imports.append(stmt)
        elif isinstance(small, cst.ImportFrom):
            module = dotted(small.module) or ""
            if module == "wandb" or module.startswith("wandb."):
                found.imports.append(stmt)


def _note_call(stmt: Stmt, call: cst.Call, found: Tracking) -> None:
    name = call_name(call) or ""
    owner, _, method = name.rpartition(".")
    if owner in found.aliases:
        if method == "init":
            found.inits.append(stmt)
            sync = keyword_arg(call, "sync_tensorboard")
            if isinstance(sync, cst.Name) and sync.value == "True":
                found.syncs_tensorboard = True
        elif method == "log":
            found.logs.append(stmt)
        elif method == "finish":
            found.finishes.append(stmt)
        elif method == "tensorboard" or name.endswith("tensorboard.patch"):
            found.syncs_tensorboard = True
    elif method in _INTEGRATIONS or _names_wandb_tracker(call):
        found.integrations.append(stmt)


def _adds_wandb_tracker(stmt: Stmt) -> bool:
    """`args.report_to = [*args.report_to, "wandb"]` and the like."""
    if not isinstance(stmt.node, cst.SimpleStatementLine):
        return False
    text = cst.Module(body=[]).code_for_node(stmt.node)
    return "report_to" in text and ('"wandb"' in text or "'wandb'" in text)


def _names_wandb_tracker(call: cst.Call) -> bool:
    """`report_to="wandb"` or `log_with=["wandb", ...]` in a framework's call."""
    return any(_is_wandb_string(keyword_arg(call, k)) for k in _TRACKER_KEYWORDS)
