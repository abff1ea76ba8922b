"""How many examples the property tests draw: few by default, many on request.

WANDB_INJECT_FUZZ_SCALE=40 multiplies every count by 40 (and draws fresh examples
each run instead of the fixed ones): the long fuzzing run, a few thousand inputs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE_VARIABLE = "WANDB_INJECT_FUZZ_SCALE"
SCALE = int(os.environ.get(SCALE_VARIABLE, "1"))


def examples(count: int, *, filters: bool = False) -> settings:
    """Settings for a property test that draws `count` examples at scale 1.

    `filters` for strategies that discard drafts of their own (hypothesmith's
    from_node), which is their way, not a sign of a bad test."""
    checks = [HealthCheck.too_slow]
    if filters:
        checks.append(HealthCheck.filter_too_much)
    return settings(
        max_examples=count * SCALE,
        deadline=None,
        derandomize=SCALE == 1,
        suppress_health_check=checks,
    )
