"""An entry point and the module its loop lives in: init and finish in one, logs in
the other."""

from __future__ import annotations

import textwrap

from snippets import inserted, line_of
from support import require_module

from injector import FileReport, InjectOptions, Point, Role, Status, inject_source

RUN_HOW = "pip install torch==2.13.0 wandb (.ci/run installs them)"

ENTRY = textwrap.dedent(
    """\
    import argparse

    import torch

    from {module} import evaluate, train_one_epoch


    def main(args):
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
        for epoch in range(args.epochs):
            train_one_epoch(model, optimizer, epoch)
            evaluate(model)
        torch.save(model.state_dict(), "model.pt")


    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.1)
        parser.add_argument("--epochs", type=int, default=3)
        args = parser.parse_args()
        main(args)
    """
)
ENGINE = textwrap.dedent(
    """\
    import torch


    def train_one_epoch(model, optimizer, epoch):
        for x, y in loader():
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """
)


def entry(source: str, path: str, *links: str) -> FileReport:
    options = InjectOptions(project="demo", role=Role.ENTRY, links=links)
    return inject_source(source, options, path)


def test_entry_starts_and_finishes_the_run_its_linked_loop_logs_to() -> None:
    report = entry(ENTRY.format(module="engine"), "proj/main.py", "proj/engine.py")

    assert report.status is Status.CHANGED, report.reason
    [init] = inserted(report, Point.INIT)
    [finish] = inserted(report, Point.FINISH)
    assert "config=vars(args)" in init.code
    assert line_of(report, "args = parser.parse_args()") < init.line
    assert init.line < line_of(report, "    main(args)")
    assert finish.line > line_of(report, "    main(args)")
    assert not inserted(report, Point.TRAIN_LOG)


def test_entry_resolves_relative_and_package_imports() -> None:
    relative = entry(ENTRY.format(module=".engine"), "pkg/train.py", "pkg/engine.py")
    package = entry(ENTRY.format(module="pkg.engine"), "train.py", "src/pkg/engine.py")
    parent = entry(ENTRY.format(module="..engine"), "a/b/train.py", "a/engine.py")

    for report in (relative, package, parent):
        assert inserted(report, Point.INIT), report.reason


def test_entry_whose_imports_miss_its_links_is_left_alone() -> None:
    report = entry(ENTRY.format(module="utils"), "proj/main.py", "proj/engine.py")

    assert report.status is Status.UNCHANGED
    assert "proj/engine.py" in report.reason


def test_relative_import_from_another_package_does_not_match() -> None:
    report = entry(ENTRY.format(module=".engine"), "pkg/train.py", "other/engine.py")

    assert report.status is Status.UNCHANGED


def test_loop_module_logs_only_while_a_run_exists() -> None:
    options = InjectOptions(role=Role.LOOP, links=("proj/main.py",))
    report = inject_source(ENGINE, options, "proj/engine.py")

    assert report.status is Status.CHANGED, report.reason
    assert not inserted(report, Point.INIT)
    assert not inserted(report, Point.FINISH)
    assert "import wandb" in report.new_source.decode()
    [counter, log] = inserted(report, Point.TRAIN_LOG)
    assert counter.code == "wandb_step = 0"
    assert log.code.startswith("wandb_step += 1\nif wandb_step % 100 == 0 and ")
    assert "wandb.run is not None:" in log.code.splitlines()[1]
    reasons = {o.point: o.reason for o in report.omissions}
    assert reasons[Point.INIT] == "the run is started by proj/main.py"
    # The module imported without a run (by a test, say) must still work.
    require_module("torch", RUN_HOW)
    require_module("wandb", RUN_HOW)
    namespace: dict[str, object] = {}
    exec(compile(report.new_source, "engine.py", "exec"), namespace)


def test_loop_module_is_a_fixed_point() -> None:
    options = InjectOptions(role=Role.LOOP, links=("main.py",))
    once = inject_source(ENGINE, options, "engine.py")
    twice = inject_source(once.new_source, options, "engine.py")

    assert twice.status is Status.UNCHANGED
    assert twice.new_source == once.new_source


def test_entry_is_a_fixed_point() -> None:
    once = entry(ENTRY.format(module="engine"), "main.py", "engine.py")
    twice = entry(once.new_source.decode(), "main.py", "engine.py")

    assert twice.status is Status.UNCHANGED
    assert twice.new_source == once.new_source
