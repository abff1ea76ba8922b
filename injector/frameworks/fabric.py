"""Lightning Fabric: plain wandb calls, with the run started once Fabric has launched.

W&B's own Fabric logger (`wandb.integration.lightning.fabric`) warns at import that
it is tested with one old Fabric release only, never finishes its run, and creates
the run in the launching process when Fabric spawns workers. Plain calls behind
`fabric.is_global_zero` record the same metrics as one run on every release.
Before `fabric.launch()` every process believes it is rank 0, so the run starts
after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from injector._matchers import call_name, dotted, small_statements
from injector.points import Plan
from injector.points.rank_zero_guard import Guard
from injector.script import Block, Stmt

DESCRIPTION = "Start the run after Fabric launches, on Fabric's global rank 0."


@dataclass(frozen=True)
class FabricUse:
    """The script's Fabric object and the statement that launches it."""

    name: str
    built: Stmt
    launch: Stmt | None

    @property
    def guard(self) -> Guard:
        why = f"Fabric's own global rank-0 flag `{self.name}.is_global_zero`"
        return Guard(f"{self.name}.is_global_zero", why)

    def launched_in(self, block: Block, after: int, stop: int) -> int | None:
        """The index of the launch in `block`, when it falls between after and stop."""
        if self.launch is None:
            return None
        top = self.launch.top_in(block)
        if top is not None and after < top.index < stop:
            return top.index
        return None


def fabric_use(plan: Plan) -> FabricUse | None:
    """`name = Fabric(...)` and its `name.launch()`, if the script has them."""
    built: tuple[str, Stmt] | None = None
    for stmt in plan.script.statements:
        for small in small_statements(stmt.node):
            if (
                isinstance(small, cst.Assign)
                and isinstance(small.value, cst.Call)
                and (call_name(small.value) or "").split(".")[-1] == "Fabric"
            ):
                name = dotted(small.targets[0].target)
                if name is not None:
                    built = built or (name, stmt)
    if built is None:
        return None
    name, stmt = built
    launch = next(
        (
            s
            for s in plan.script.statements
            if s.scope is stmt.scope
            and any(call_name(c) == f"{name}.launch" for c in s.calls)
        ),
        None,
    )
    return FabricUse(name, stmt, launch)
