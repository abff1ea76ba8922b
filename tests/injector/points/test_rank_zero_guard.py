"""Distributed scripts record from global rank 0 only, with the check they use."""

from __future__ import annotations

from snippets import LOOP, inject, inserted, line_of, script

from injector import Point
from injector.distributed import ENV_GUARD

SETUP = (
    "torch.distributed.init_process_group('nccl')\n"
    "local_rank = int(os.environ['LOCAL_RANK'])\n"
)
HEAD = "import argparse\nimport os\nimport torch\n"


def _init(report) -> str:  # type: ignore[no-untyped-def]
    [init] = inserted(report, Point.INIT)
    return init.code


def test_a_single_process_script_gets_no_guard() -> None:
    report = inject(script(LOOP))

    assert "mode=" not in _init(report)
    assert report.distributed is None


def test_a_per_node_check_is_rejected_for_the_launchers_rank() -> None:
    body = SETUP + LOOP + "    if local_rank == 0:\n        print('epoch done')\n"
    report = inject(script(body, head=HEAD))

    assert f'mode=None if {ENV_GUARD} else "disabled"' in _init(report)
    info = report.distributed
    assert info is not None and info.mechanism == "torch.distributed"
    assert info.guard == ENV_GUARD
    [(check, reason)] = info.rejected
    assert check == "local_rank == 0"
    assert "per node" in reason


def test_a_helper_that_reads_the_local_rank_is_per_node_too() -> None:
    helper = "def is_main():\n    return int(os.environ['LOCAL_RANK']) == 0\n"
    body = helper + SETUP + LOOP + "    if is_main():\n        print('epoch done')\n"
    report = inject(script(body, head=HEAD))

    assert report.distributed is not None
    assert report.distributed.guard == ENV_GUARD
    assert report.distributed.rejected[0][0] == "is_main()"


def test_the_scripts_own_global_flag_is_reused() -> None:
    body = (
        "torch.distributed.init_process_group('nccl')\n"
        "master_process = int(os.environ['RANK']) == 0\n"
        + LOOP
        + "    if master_process:\n        torch.save(model.state_dict(), 'm.pt')\n"
    )
    report = inject(script(body, head=HEAD))

    assert 'mode=None if master_process else "disabled"' in _init(report)
    info = report.distributed
    assert info is not None and info.rejected == ()
    assert info.guard_line == line_of(report, "if master_process:")
    assert report.to_json()["distributed"]["guard"] == "master_process"


def test_the_run_starts_after_the_rank_is_known() -> None:
    setup = "def setup():\n    torch.distributed.init_process_group('nccl')\n"
    setup += "    return torch.distributed.get_rank()\n"
    body = (
        setup + "rank = setup()\n" + LOOP + "    if rank == 0:\n        print('done')\n"
    )
    report = inject(script(body, head=HEAD))

    assert 'mode=None if rank == 0 else "disabled"' in _init(report)
    assert line_of(report, "rank = setup()") < line_of(report, "wandb.init(")


def test_spawned_workers_start_the_run_after_their_process_group() -> None:
    source = (
        "import argparse\nimport torch\nimport torch.distributed as dist\n"
        "import torch.multiprocessing as mp\n"
        "def worker(index, args):\n"
        "    dist.init_process_group('gloo', rank=index, world_size=2)\n"
        "    model = torch.nn.Linear(2, 2)\n"
        "    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)\n"
        "    for step in range(args.steps):\n"
        "        loss = model(torch.randn(2, 2)).sum()\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "def main():\n"
        "    parser = argparse.ArgumentParser()\n"
        "    args = parser.parse_args()\n"
        "    mp.spawn(worker, nprocs=2, args=(args,))\n"
        "if __name__ == '__main__':\n"
        "    main()\n"
    )
    report = inject(source)

    code = _init(report)
    assert 'mode=None if dist.get_rank() == 0 else "disabled"' in code
    assert "config=vars(args)" in code
    assert line_of(report, "dist.init_process_group") < line_of(report, "wandb.init(")
    assert line_of(report, "wandb.init(") < line_of(report, "def main():")
    assert report.distributed is not None
    assert report.distributed.mechanism == "mp.spawn"
