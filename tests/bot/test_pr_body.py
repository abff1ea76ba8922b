"""The pull request's title and body, from real injector reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.pr_body import (
    MARKER,
    MAX_BODY_LENGTH,
    MAX_LISTED_EXCLUDED,
    Setup,
    render_body,
    render_title,
)
from injector import FileReport, InjectOptions, Insertion, Point, Status, inject_source
from injector.locate import Excluded

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "train_mnist.py"
SPAWNED = ROOT / "tests/injector/fixtures/distributed/mp_spawn_workers/before.py"
SETUP = Setup("digits", "the repository's name")


def inject(path: Path, name: str) -> FileReport:
    return inject_source(path.read_bytes(), InjectOptions(project="digits"), path=name)


def link(path: str, line: int) -> str:
    return f"https://example.test/blob/abc/{path}#L{line}"


@pytest.fixture
def mnist() -> FileReport:
    report = inject(EXAMPLE, "train.py")
    assert report.changed
    return report


@pytest.fixture
def spawned() -> FileReport:
    report = inject(SPAWNED, "dist/spawn.py")
    assert report.distributed is not None
    return report


def test_title_names_the_one_script_or_counts_them(
    mnist: FileReport, spawned: FileReport
) -> None:
    unchanged = FileReport("util.py", Status.UNCHANGED, b"", b"", reason="no loop")

    assert render_title([mnist, unchanged]) == (
        "Track training with Weights & Biases in train.py"
    )
    assert render_title([mnist, spawned]) == (
        "Track training with Weights & Biases in 2 scripts"
    )


def test_body_starts_with_the_hidden_marker(mnist: FileReport) -> None:
    body = render_body([mnist], [], SETUP)

    assert body.splitlines()[0] == MARKER == "<!-- wandb-inject -->"


def test_table_lists_each_changed_file_with_framework_config_and_guard(
    mnist: FileReport, spawned: FileReport
) -> None:
    body = render_body([mnist, spawned], [], SETUP)

    rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `train.py` | pytorch | argparse, `vars(args)` | — |",
        "| `dist/spawn.py` | pytorch | argparse, `vars(args)` "
        "| `rank == 0` (mp.spawn) |",
    ]


def test_each_insertion_gives_its_line_its_code_and_why(mnist: FileReport) -> None:
    body = render_body([mnist], [], SETUP)

    for insertion in mnist.insertions:
        [item] = [
            line
            for line in body.splitlines()
            if line.startswith(f"- `train.py:{insertion.line}` (")
        ]
        assert item.endswith(insertion.reason)
        first_code_line = insertion.code.splitlines()[0]
        if "\n" in insertion.code:
            block = body.split(item + "\n", 1)[1]
            assert block.startswith(f"  ```python\n  {first_code_line}\n")
        else:
            assert f"`{insertion.code}` — " in item


def test_lines_are_linked_only_with_a_url_function(mnist: FileReport) -> None:
    plain = render_body([mnist], [], SETUP)
    linked = render_body([mnist], [], SETUP, line_url=link)

    line = mnist.insertions[0].line
    assert f"[`train.py:{line}`]({link('train.py', line)})" in linked
    assert "https://example.test" not in plain
    assert f"- `train.py:{line}` (" in plain


def test_distributed_section_gives_guard_evidence_and_turned_down_checks(
    spawned: FileReport,
) -> None:
    info = spawned.distributed
    assert info is not None and info.rejected and info.guard_line

    body = render_body([spawned], [], SETUP, line_url=link)

    assert f"holds ([`dist/spawn.py:{info.guard_line}`]" in body
    for line in info.evidence_lines:
        assert link("dist/spawn.py", line) in body
    for check, reason in info.rejected:
        assert f"- Not used: `{check}`, {reason}." in body
    assert info.guard_form in body


def test_left_alone_lists_unchanged_reports_omissions_and_excluded_files(
    spawned: FileReport,
) -> None:
    unchanged = FileReport(
        "model.py", Status.UNCHANGED, b"", b"", reason="no backward pass\nor step"
    )
    excluded = [Excluded("notebooks/explore.ipynb", "a notebook")]

    body = render_body([spawned, unchanged], excluded, SETUP)

    assert "- `model.py` (unchanged): no backward pass or step" in body
    assert "- `notebooks/explore.ipynb`: a notebook" in body
    [omission] = spawned.omissions
    assert f"- No evaluation metrics: {omission.reason}" in body


def test_many_files_left_out_for_one_reason_are_counted(mnist: FileReport) -> None:
    tests = [Excluded(f"tests/t{n}.py", "a test (tests/ folder)") for n in range(50)]
    libraries = [
        Excluded(f"lib/m{n}.py", f"a library: calls opt.step() (line {n})")
        for n in range(MAX_LISTED_EXCLUDED + 1)
    ]
    notebook = Excluded("explore.ipynb", "a notebook: reported, not rewritten")

    body = render_body([mnist], [*tests, *libraries, notebook], SETUP)

    shown = ", ".join(f"`tests/t{n}.py`" for n in range(MAX_LISTED_EXCLUDED))
    more = 50 - MAX_LISTED_EXCLUDED
    assert f"- 50 files, a test (tests/ folder): {shown} and {more} more" in body
    assert "`tests/t3.py`" not in body
    # Reasons that differ in their details are named by their kind.
    assert f"- {MAX_LISTED_EXCLUDED + 1} files, a library: `lib/m0.py`" in body
    assert "- `explore.ipynb`: a notebook: reported, not rewritten" in body


def test_setup_names_the_key_the_project_and_the_entity(mnist: FileReport) -> None:
    without_entity = render_body([mnist], [], SETUP)
    with_entity = render_body(
        [mnist], [], Setup("digits", "from .github/wandb-inject.yml", "vision")
    )

    assert "`WANDB_API_KEY` as a secret" in without_entity
    assert "project `digits` (the repository's name)" in without_entity
    assert "default entity" in without_entity
    assert "project `digits` (from .github/wandb-inject.yml)" in with_entity
    assert "Runs go to the entity `vision`; `WANDB_ENTITY` in the" in with_entity


def test_says_how_to_redo_or_stop(mnist: FileReport) -> None:
    body = render_body([mnist], [], SETUP)

    assert "Comment `/wandb-inject recreate`" in body
    assert "close it without merging" in body
    assert "`enabled: false`" in body


def test_backticks_in_code_and_pipes_in_paths_keep_the_markdown_intact() -> None:
    fence_code = 'doc = """\n```\n"""'
    report = FileReport(
        "odd|name.py",
        Status.CHANGED,
        b"",
        b"x",
        insertions=[
            Insertion(Point.INIT, 3, fence_code, "why"),
            Insertion(Point.FINISH, 9, "print(`x`)", "why"),
        ],
    )

    body = render_body([report], [], SETUP)

    assert "| `odd\\|name.py` |" in body
    assert '  ````python\n  doc = """\n  ```\n  """\n  ````' in body
    assert "``print(`x`)``" in body


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        pytest.param("new\nline.py", "new\\nline.py", id="newline"),
        pytest.param("evil\u202eyp.sh", "evil\\u202eyp.sh", id="right-to-left"),
        pytest.param("caf\udce9.py", "caf\ufffd.py", id="not-utf8"),
    ],
)
def test_names_a_repository_may_hold_are_shown_visibly_and_encode(
    name: str, shown: str
) -> None:
    report = FileReport(name, Status.CHANGED, b"", b"x")

    title = render_title([report])
    body = render_body([report], [], SETUP)

    assert title.endswith(f" in {shown}")
    [row] = [line for line in body.splitlines() if line.startswith("| `")]
    assert row.startswith(f"| `{shown}` |")
    (title + body).encode()


def test_an_overlong_body_drops_the_code_and_fits(mnist: FileReport) -> None:
    big = "\n".join(f"x{n} = {n}" for n in range(20_000))
    report = FileReport(
        "big.py",
        Status.CHANGED,
        b"",
        b"x",
        insertions=[Insertion(Point.INIT, 1, big, "a huge block")],
    )

    body = render_body([mnist, report], [], SETUP)

    assert len(body) <= MAX_BODY_LENGTH
    assert "x19999" not in body
    assert "- `big.py:1` (run start): a huge block" in body
    assert "Comment `/wandb-inject recreate`" in body


def test_a_body_too_long_even_without_code_is_cut_short() -> None:
    insertions = [Insertion(Point.TRAIN_LOG, n, "x", "r" * 40) for n in range(3000)]
    report = FileReport("many.py", Status.CHANGED, b"", b"x", insertions=insertions)

    body = render_body([report], [], SETUP)

    assert len(body) == MAX_BODY_LENGTH
    assert body.startswith(MARKER)
    assert body.endswith("(Cut short: the rest is in the diff.)\n")
