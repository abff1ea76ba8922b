"""Real training scripts from the fixtures, mutated, keep every report property."""

from __future__ import annotations

import libcst as cst
from fixture_cases import Case, all_cases
from fuzzing import examples
from hypothesis import given
from hypothesis import strategies as st
from mutations import Layout, Mutation, layouts, mutate, mutations
from report_checks import check_report

from injector import InjectOptions, inject_source


def _parses(case: Case) -> bool:
    try:
        cst.parse_module(case.before)
    except (cst.ParserSyntaxError, UnicodeDecodeError):
        return False
    return True


SCRIPTS = [case for case in all_cases() if _parses(case)]


def test_only_unreadable_fixtures_are_left_unmutated() -> None:
    # The Python 2 file and the one its cookie's codec cannot decode.
    left = [case for case in all_cases() if case not in SCRIPTS]
    assert len(left) == 2
    assert {case.expect["status"] for case in left} == {"skipped"}


def test_mutations_change_the_script() -> None:
    case = next(c for c in SCRIPTS if c.id == "argparse/mnist_log_interval")
    for kind in ("delete", "duplicate", "wrap", "insert-wandb", "rename"):
        mutated = mutate(case.before, [Mutation(kind, 0, 3)], Layout())
        assert mutated != case.before, kind
        compile(mutated, case.id, "exec", dont_inherit=True)


@examples(40)
@given(
    case=st.sampled_from(SCRIPTS),
    changes=mutations,
    layout=layouts,
    log_every=st.sampled_from([None, 1, 50]),
)
def test_mutated_fixture_scripts(
    case: Case, changes: list[Mutation], layout: Layout, log_every: int | None
) -> None:
    source = mutate(case.before, changes, layout)
    options = (
        InjectOptions() if log_every is None else InjectOptions(log_every=log_every)
    )
    check_report(
        source, inject_source(source, options, path=f"{case.id}/train.py"), options
    )
