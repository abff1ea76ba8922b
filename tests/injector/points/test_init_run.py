"""`wandb.init` with the whole config, after its last change, never twice."""

from __future__ import annotations

import textwrap

from snippets import LOOP, inject, inserted, line_of, script

from injector import Point, Status


def test_config_is_the_argparse_namespace_after_its_mutations() -> None:
    body = "args.lr = 0.1 * args.epochs\nsetup_distributed(args)\nprint(args)\n" + LOOP
    report = inject(script(body))

    [init] = inserted(report, Point.INIT)
    assert "config=vars(args)" in init.code
    assert line_of(report, "setup_distributed(args)") < init.line
    assert init.line < line_of(report, "for epoch in")
    assert report.config is not None and report.config.kind == "argparse"


def test_a_call_that_only_reads_the_config_does_not_move_init() -> None:
    body = "if args.evaluate:\n    validate(model, loader, args)\n" + LOOP
    report = inject(script(body))

    [init] = inserted(report, Point.INIT)
    assert init.line < line_of(report, "if args.evaluate:")


def test_project_respects_wandb_project_in_the_environment() -> None:
    report = inject(script(LOOP))

    [init] = inserted(report, Point.INIT)
    assert 'project=os.environ.get("WANDB_PROJECT", "demo")' in init.code
    assert "key" not in init.code.lower()


def test_existing_init_is_never_repeated() -> None:
    source = script("wandb.init(project='x', config=vars(args))\n" + LOOP)
    source = source.replace("import torch\n", "import torch\nimport wandb\n", 1)

    report = inject(source)

    assert report.new_source.count(b"wandb.init(") == 1
    assert not inserted(report, Point.INIT)
    assert any("already calls `wandb.init`" in o.reason for o in report.omissions)


def test_init_behind_a_flag_guards_the_added_logs() -> None:
    source = script("if args.track:\n    wandb.init(config=vars(args))\n" + LOOP)
    source = source.replace("import torch\n", "import torch\nimport wandb\n", 1)

    report = inject(source)

    [log] = inserted(report, Point.TRAIN_LOG)
    # The run check joins the interval check; nothing else runs under it.
    assert log.code.splitlines()[0] == "if step % 100 == 0 and wandb.run is not None:"


def test_no_config_and_nothing_to_collect_leaves_the_file() -> None:
    source = textwrap.dedent(
        """\
        import torch
        model, optimizer = build()
        for x, y in data():
            loss = model(x, y)
            loss.backward()
            optimizer.step()
        """
    )
    report = inject(source)

    assert report.status is Status.UNCHANGED
    assert "no configuration found" in report.reason


def test_a_module_named_config_is_not_the_config() -> None:
    source = script(LOOP, head="import argparse\nimport torch\nimport config\n")

    report = inject(source)

    assert report.config is not None
    assert report.config.expression == "vars(args)"


def test_report_names_the_config_line_in_the_new_file() -> None:
    report = inject(script(LOOP))

    assert report.config is not None
    assert report.config.line == line_of(report, "args = parser.parse_args()")


def test_entity_is_written_beside_the_project_and_the_environment_wins() -> None:
    report = inject(script(LOOP), entity="vision-team")

    [init] = inserted(report, Point.INIT)
    assert 'entity=os.environ.get("WANDB_ENTITY", "vision-team")' in init.code
    assert "entity" not in inserted(inject(script(LOOP)), Point.INIT)[0].code
