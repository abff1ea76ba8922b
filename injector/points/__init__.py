"""What the injection points share while planning one file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from injector.config import ConfigSite
from injector.distributed import Distribution
from injector.edits import Edit, Where
from injector.jax_steps import Traced
from injector.options import InjectOptions
from injector.result import Point
from injector.script import Block, Script, Stmt
from injector.tracking import Tracking
from injector.training import TrainingLoop
from injector.values import Kinds, Metric, code_of

if TYPE_CHECKING:
    from injector.points.rank_zero_guard import Guard


@dataclass(frozen=True)
class PlannedOmission:
    point: Point
    reason: str
    evidence: tuple[cst.BaseStatement, ...] = ()


@dataclass(eq=False)
class Plan:
    """The facts about one script and the edits planned for it so far."""

    path: str
    script: Script
    options: InjectOptions
    loops: list[TrainingLoop]
    trainers: set[str]
    tracking: Tracking
    kinds: Kinds
    config: ConfigSite | None = None
    config_kind: str | None = None
    config_expression: str | None = None
    # The block that holds wandb.init: finish goes at its end.
    run_block: Block | None = None
    run_start: Stmt | None = None
    distribution: Distribution | None = None
    guard: Guard | None = None
    # The step each training loop's log uses, by id of the loop statement.
    loop_steps: dict[int, str | None] = field(default_factory=dict)
    # The framework the script trains with, as the report names it.
    framework: str | None = None
    # Accelerate's accelerator, when the run goes through its tracker.
    tracker: str | None = None
    tracker_stmt: Stmt | None = None
    # Set when the script's own run may not exist: log calls go under this check.
    log_condition: str | None = None
    # Functions JAX traces: nothing may be inserted in them.
    traced: Traced = field(default_factory=Traced)
    edits: list[Edit] = field(default_factory=list)
    omissions: list[PlannedOmission] = field(default_factory=list)
    imports: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def module(self) -> cst.Module:
        return self.script.module

    def insert(
        self,
        anchor: Stmt,
        where: Where,
        code: str,
        point: Point,
        reason: str,
        evidence: tuple[cst.BaseStatement, ...] = (),
    ) -> None:
        if self.traced.contains(anchor.scope):
            self.omit(
                point,
                f"`{anchor.scope.name}` is traced by JAX: a W&B call there would run "
                "once, at trace time, with no real values",
            )
            return
        self.edits.append(Edit(anchor, where, code.strip(), point, reason, evidence))

    def replace(
        self,
        anchor: Stmt,
        statement: cst.BaseStatement,
        code: str,
        point: Point,
        reason: str,
        evidence: tuple[cst.BaseStatement, ...] = (),
    ) -> Edit:
        """Swap a statement for `statement`, built from it (a framework hook)."""
        edit = Edit(anchor, "replace", code, point, reason, evidence, [statement])
        self.edits.append(edit)
        return edit

    @property
    def log_function(self) -> str:
        return f"{self.tracker}.log" if self.tracker else "wandb.log"

    @property
    def finish_code(self) -> str:
        return (
            f"{self.tracker}.end_training()\n" if self.tracker else "wandb.finish()\n"
        )

    def log_call(
        self,
        metrics: list[Metric],
        prefix: str,
        step: str | None,
        gate: str | None = None,
    ) -> str:
        """The log call, under `gate` and the script's own run check if any."""
        call = log_call(metrics, prefix, step, self.log_function)
        conditions = [c for c in (gate, self.log_condition) if c]
        if not conditions:
            return call
        return f"if {' and '.join(conditions)}:\n" + indent(call)

    def run_names(self) -> dict[str, str]:
        """`project` (and `entity` when set) as code that lets the environment's
        WANDB_PROJECT and WANDB_ENTITY win."""
        self.need_import("os")
        names = {"project": self.options.project_for(self.path)}
        if self.options.entity:
            names["entity"] = self.options.entity
        return {
            key: f'os.environ.get("WANDB_{key.upper()}", {json.dumps(value)})'
            for key, value in names.items()
        }

    def omit(
        self, point: Point, reason: str, evidence: tuple[cst.BaseStatement, ...] = ()
    ) -> None:
        """Leave a point out; `reason` may name evidence lines as `{0}`, `{1}`, ..."""
        self.omissions.append(PlannedOmission(point, reason, evidence))

    def omit_existing(self, point: Point, call: str, stmts: list[Stmt]) -> None:
        """Leave a point out because the script already makes the call itself."""
        reason = f"the script already calls `{call}` (line {{0}})"
        self.omit(point, reason, (stmts[0].node,))

    def need_import(self, module: str, name: str | None = None) -> None:
        if (module, name) not in self.imports:
            self.imports.append((module, name))

    def has(self, point: Point) -> bool:
        return any(edit.point is point for edit in self.edits)


def code(node: cst.CSTNode) -> str:
    return code_of(node)


def quoted(node_or_text: cst.CSTNode | str) -> str:
    """Inline code for a reason, with braces escaped for line formatting."""
    text = node_or_text if isinstance(node_or_text, str) else code_of(node_or_text)
    text = " ".join(text.split())
    if len(text) > 60:
        text = text[:57] + "..."
    return "`" + text.replace("{", "{{").replace("}", "}}") + "`"


def insertable(stmt: Stmt) -> bool:
    """Whether new statements can go beside `stmt` without reflowing its line."""
    return isinstance(stmt.block.owner, cst.Module | cst.IndentedBlock)


def log_call(
    metrics: list[Metric], prefix: str, step: str | None, function: str = "wandb.log"
) -> str:
    """A log call, on one line when it fits, else one entry per line."""
    tail = f", step={step}" if step else ""
    step_line = f"    step={step},\n" if step else ""
    if len(metrics) == 1 and metrics[0].key == "**":
        # A lone dict of metrics needs no braces around it.
        one_line = f"{function}({metrics[0].code}{tail})\n"
        if len(one_line) <= 88:
            return one_line
        return f"{function}(\n    {metrics[0].code},\n{step_line})\n"
    entries = [
        f"**{m.code}"
        if m.key == "**"
        else f"{json.dumps(_full_key(m.key, prefix))}: {m.code}"
        for m in metrics
    ]
    one_line = f"{function}({{" + ", ".join(entries) + "}" + tail + ")\n"
    if len(one_line) <= 72:
        return one_line
    body = "".join(f"        {entry},\n" for entry in entries)
    return f"{function}(\n    {{\n" + body + "    },\n" + step_line + ")\n"


def _full_key(key: str, prefix: str) -> str:
    """`eval/acc` for `acc`; keys that name their own section, and the epoch, stay."""
    if "/" in key or key == "epoch":
        return key
    if prefix != "train" and key.startswith("train_"):
        return "train/epoch_" + key.removeprefix("train_")
    return f"{prefix}/{key}"


def indent(code: str) -> str:
    return "".join(f"    {line}\n" if line else "\n" for line in code.splitlines())
