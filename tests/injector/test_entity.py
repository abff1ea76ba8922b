"""The entity option reaches every way a run is started: frameworks included."""

from __future__ import annotations

from pathlib import Path

import pytest

from injector import InjectOptions, Status, inject_source

SCRIPTS = Path(__file__).parent.parent / "run" / "scripts"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("lightning_tiny.py", 'entity=os.environ.get("WANDB_ENTITY", "vision-team")'),
        ("hf_trainer_tiny.py", 'os.environ.setdefault("WANDB_ENTITY", "vision-team")'),
        (
            "accelerate_tiny.py",
            'init_kwargs={"wandb": {"entity": os.environ.get("WANDB_ENTITY", '
            '"vision-team")}}',
        ),
        ("keras_tiny.py", 'entity=os.environ.get("WANDB_ENTITY", "vision-team")'),
    ],
)
def test_frameworks_get_the_entity(script: str, expected: str) -> None:
    options = InjectOptions(project="demo", entity="vision-team")
    report = inject_source((SCRIPTS / script).read_bytes(), options, script)

    assert report.status is Status.CHANGED, report.reason
    assert any(expected in insertion.code for insertion in report.insertions)
