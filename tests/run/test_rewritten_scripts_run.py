"""Rewritten scripts still train, on the CPU, and record one run with real numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from loopback import free_port
from offline_runs import read_runs, run_offline
from support import require_module

from injector import InjectOptions, Status, inject_source

SCRIPTS = Path(__file__).parent / "scripts"
HOW = "pip install torch==2.13.0 wandb (.ci/run installs them)"


@pytest.fixture(autouse=True)
def _torch_and_wandb() -> None:
    require_module("torch", HOW)
    require_module("wandb", HOW)


def _rewrite(name: str, workdir: Path, log_every: int = 5) -> Path:
    source = (SCRIPTS / name).read_bytes()
    report = inject_source(
        source, InjectOptions(project="run-test", log_every=log_every)
    )
    assert report.status is Status.CHANGED, report.reason
    target = workdir / name
    target.write_bytes(report.new_source)
    return target


def _steps(rows: list[dict[str, object]]) -> list[int]:
    return [int(row["_step"]) for row in rows]  # type: ignore[call-overload]


def test_plain_pytorch_records_config_train_and_eval(tmp_path: Path) -> None:
    script = _rewrite("plain_pytorch.py", tmp_path)

    output = run_offline([sys.executable, str(script), "--epochs", "2"], tmp_path)

    assert "test loss" in output
    [run] = read_runs(tmp_path)
    assert run.config["lr"] == 0.1 and run.config["epochs"] == 2
    assert run.config["hidden"] == 32
    train = run.rows_with("train/loss")
    # 16 batches an epoch, reported every 4: 4 logs an epoch.
    assert len(train) == 8
    assert all(isinstance(row["train/loss"], float) for row in train)
    assert all(row["train/lr"] == 0.1 for row in train)
    assert _steps(train) == sorted(set(_steps(train)))
    evaluation = run.rows_with("eval/accuracy")
    assert len(evaluation) == 2
    assert all(0.0 <= row["eval/accuracy"] <= 1.0 for row in evaluation)
    assert all(isinstance(row["eval/test_loss"], float) for row in evaluation)


def test_torchrun_ddp_records_exactly_one_run(tmp_path: Path) -> None:
    script = _rewrite("ddp_torchrun.py", tmp_path)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]

    run_offline([*launcher, "--nproc_per_node", "2", str(script)], tmp_path)

    [run] = read_runs(tmp_path)
    assert run.config["lr"] == 0.05
    train = run.rows_with("train/loss")
    # 512 samples, 2 ranks, batches of 16: 16 steps an epoch, logged every 3.
    assert _steps(train) == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    assert all(isinstance(row["train/loss"], float) for row in train)


def test_mp_spawn_workers_record_exactly_one_run(tmp_path: Path) -> None:
    script = _rewrite("mp_spawn_cpu.py", tmp_path)
    url = f"tcp://127.0.0.1:{free_port()}"

    run_offline([sys.executable, str(script), "--dist-url", url], tmp_path)

    [run] = read_runs(tmp_path)
    assert run.config["procs"] == 2 and run.config["lr"] == 0.02
    train = run.rows_with("train/loss")
    assert _steps(train) == [0, 4, 8, 12, 16]
    assert all(row["train/lr"] == 0.02 for row in train)


def test_lightning_logs_through_its_wandb_logger(tmp_path: Path) -> None:
    require_module("lightning", "pip install lightning (.ci/run installs it)")
    script = _rewrite("lightning_tiny.py", tmp_path)

    run_offline([sys.executable, str(script)], tmp_path)

    [run] = read_runs(tmp_path)
    assert run.config["lr"] == 0.05 and run.config["epochs"] == 2
    train = run.rows_with("train_loss")
    # 8 batches an epoch, 2 epochs, a log every 2 steps.
    assert len(train) == 8
    assert all(isinstance(row["train_loss"], float) for row in train)
    assert len(run.rows_with("val_loss")) == 2


def test_transformers_trainer_reports_to_wandb(tmp_path: Path) -> None:
    require_module("transformers", "pip install transformers (.ci/run installs it)")
    require_module("accelerate", "pip install accelerate (.ci/run installs it)")
    script = _rewrite("hf_trainer_tiny.py", tmp_path)

    run_offline([sys.executable, str(script)], tmp_path)

    [run] = read_runs(tmp_path)
    assert run.config["learning_rate"] == 0.001
    assert run.config["max_steps"] == 8
    train = run.rows_with("train/loss")
    assert [row["train/global_step"] for row in train] == [2, 4, 6, 8]
    assert len(run.rows_with("eval/loss")) == 2


def test_keras_fit_logs_through_the_wandb_callback(tmp_path: Path) -> None:
    require_module("keras", "pip install keras (.ci/run installs it)")
    script = _rewrite("keras_tiny.py", tmp_path)

    run_offline([sys.executable, str(script)], tmp_path)

    [run] = read_runs(tmp_path)
    assert run.config["epochs"] == 3 and run.config["units"] == 8
    epochs = run.rows_with("epoch/loss")
    assert len(epochs) == 3
    assert all(isinstance(row["epoch/val_loss"], float) for row in epochs)


def test_accelerate_logs_through_its_tracker(tmp_path: Path) -> None:
    require_module("accelerate", "pip install accelerate (.ci/run installs it)")
    script = _rewrite("accelerate_tiny.py", tmp_path)
    assert b"import wandb" not in script.read_bytes()

    run_offline([sys.executable, str(script)], tmp_path)

    [run] = read_runs(tmp_path)
    assert run.config["lr"] == 0.05 and run.config["log_every"] == 4
    train = run.rows_with("train/loss")
    # 16 batches an epoch, 2 epochs, a report every 4 steps.
    assert _steps(train) == [4, 8, 12, 16, 20, 24, 28, 32]
    assert all(row["train/lr"] == 0.05 for row in train)


def test_fabric_processes_record_exactly_one_run(tmp_path: Path) -> None:
    require_module("lightning", "pip install lightning (.ci/run installs it)")
    script = _rewrite("fabric_ddp_cpu.py", tmp_path, log_every=2)
    assert b"fabric.is_global_zero" in script.read_bytes()

    run_offline([sys.executable, str(script)], tmp_path)

    [run] = read_runs(tmp_path)
    assert run.config["lr"] == 0.05 and run.config["epochs"] == 2
    train = run.rows_with("train/loss")
    # 256 samples over 2 processes, batches of 16: 8 updates an epoch, every 2nd.
    assert _steps(train) == [2, 4, 6, 8, 10, 12, 14, 16]
    assert all(isinstance(row["train/loss"], float) for row in train)


def test_accelerate_tracking_behind_a_flag_is_switched_on(tmp_path: Path) -> None:
    require_module("accelerate", "pip install accelerate (.ci/run installs it)")
    script = _rewrite("accelerate_tracking_flag.py", tmp_path)
    assert b"import wandb" not in script.read_bytes()

    # No flag given: the script's own tracking now runs, through W&B among "all".
    run_offline([sys.executable, str(script)], tmp_path)

    [run] = read_runs(tmp_path)
    assert run.config["with_tracking"] is True and run.config["epochs"] == 3
    epochs = run.rows_with("train_loss")
    assert _steps(epochs) == [0, 1, 2]
    assert all(isinstance(row["train_loss"], float) for row in epochs)
