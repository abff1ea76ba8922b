"""`wandb.finish()` once training is over, on early returns, never unreachable."""

from __future__ import annotations

import textwrap

from snippets import LOOP, inject, inserted, line_of, new_lines, script

from injector import Point


def _in_main(body: str) -> str:
    main = "def main():\n" + textwrap.indent(
        "args = parser.parse_args()\n" + body, "    "
    )
    head = (
        "import argparse\nimport torch\n"
        "parser = argparse.ArgumentParser()\n"
        "model = torch.nn.Linear(2, 2)\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
    )
    return head + main + "\n\nif __name__ == '__main__':\n    main()\n"


def test_after_the_last_save_at_the_end_of_training() -> None:
    report = inject(script(LOOP + "torch.save(model.state_dict(), 'm.pt')\n"))

    [finish] = inserted(report, Point.FINISH)
    assert new_lines(report)[-1] == "wandb.finish()"
    assert finish.line == line_of(report, "torch.save(") + 1


def test_before_an_early_return_and_the_final_return() -> None:
    body = "if args.evaluate:\n    return 0\n" + LOOP + "return 1\n"
    report = inject(_in_main(body))

    early, final = inserted(report, Point.FINISH)
    assert early.line == line_of(report, "return 0") - 0 - 1
    assert final.line == line_of(report, "return 1") - 1
    assert inserted(report, Point.INIT)[0].line < line_of(report, "if args.evaluate")


def test_a_loop_that_never_ends_gets_no_finish() -> None:
    body = (
        "while True:\n"
        "    for x, y in loader:\n"
        "        loss = model(x, y)\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
    )
    report = inject(_in_main(body))

    assert not inserted(report, Point.FINISH)
    assert any(
        o.point is Point.FINISH and "never ends" in o.reason for o in report.omissions
    )


def test_a_loop_with_a_break_gets_its_finish() -> None:
    body = (
        "while True:\n"
        "    x, y = next(batches)\n"
        "    loss = model(x, y)\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
        "    if done():\n"
        "        break\n"
    )
    report = inject(_in_main(body))

    assert len(inserted(report, Point.FINISH)) == 1


def test_existing_finish_is_not_repeated() -> None:
    source = script(LOOP + "wandb.finish()\n")
    source = source.replace("import torch\n", "import torch\nimport wandb\n", 1)

    report = inject(source)

    assert report.new_source.count(b"wandb.finish()") == 1
