"""`import wandb` goes after the last top-level import, once."""

from __future__ import annotations

from snippets import LOOP, inject, inserted, line_of, new_lines, script

from injector import Point


def test_after_the_last_top_level_import_not_inside_try() -> None:
    head = (
        "import argparse\n"
        "import torch\n"
        "try:\n"
        "    import apex\n"
        "except ImportError:\n"
        "    apex = None\n"
        "from torch import nn\n"
    )
    report = inject(script(LOOP, head=head))

    [insertion] = inserted(report, Point.IMPORT)
    assert new_lines(report)[insertion.line - 2] == "from torch import nn"
    assert new_lines(report)[insertion.line - 1 : insertion.line + 1] == [
        "import os",
        "import wandb",
    ]


def test_before_a_module_level_init_that_precedes_later_imports() -> None:
    source = script(LOOP) + "import json\n"

    report = inject(source)

    assert line_of(report, "import wandb") < line_of(report, "wandb.init(")
    assert line_of(report, "import json") > line_of(report, "wandb.init(")


def test_after_docstring_and_future_import() -> None:
    head = '"""Train."""\nfrom __future__ import annotations\nimport argparse\n'
    report = inject(script(LOOP, head=head + "import torch\n"))

    lines = new_lines(report)
    assert lines[:2] == ['"""Train."""', "from __future__ import annotations"]
    compile(report.new_source, "x", "exec")


def test_no_second_import_when_wandb_is_imported_at_the_top() -> None:
    source = script(LOOP, head="import argparse\nimport torch\nimport wandb\n")

    report = inject(source)

    assert report.new_source.count(b"import wandb") == 1
    assert "wandb" not in inserted(report, Point.IMPORT)[0].code
    assert inserted(report, Point.INIT)


def test_uses_the_existing_os_import() -> None:
    report = inject(script(LOOP, head="import argparse\nimport os\nimport torch\n"))

    assert report.new_source.count(b"import os") == 1
    assert inserted(report, Point.IMPORT)[0].code == "import wandb"
