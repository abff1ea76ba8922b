"""Small training scripts built in the tests, and helpers to read what was inserted."""

from __future__ import annotations

import textwrap

from injector import FileReport, InjectOptions, Insertion, Point, inject_source

LOOP = """\
for epoch in range(args.epochs):
    for step, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
"""


def script(body: str, head: str = "import argparse\nimport torch\n") -> str:
    """A module: imports, an argparse config, then `body` at module level."""
    config = (
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--epochs', type=int, default=2)\n"
        "args = parser.parse_args()\n"
        "model = torch.nn.Linear(2, 2)\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "criterion = torch.nn.CrossEntropyLoss()\n"
        "loader = val_loader = make_loader(args)\n"
    )
    return head + config + textwrap.dedent(body)


def inject(source: str, **options: object) -> FileReport:
    return inject_source(
        source, InjectOptions(project="demo", **options), "demo/train.py"
    )  # type: ignore[arg-type]


def inserted(report: FileReport, point: Point) -> list[Insertion]:
    return [i for i in report.insertions if i.point is point]


def new_lines(report: FileReport) -> list[str]:
    return report.new_source.decode().splitlines()


def line_of(report: FileReport, text: str) -> int:
    """1-based line of the first line in the new file that contains `text`."""
    for number, line in enumerate(new_lines(report), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in the new file")
