"""The nasty corpus keeps its bytes: encoding, BOM, cookie and newline style survive."""

from __future__ import annotations

import ast
import shutil
import tokenize
from functools import cache
from io import BytesIO
from pathlib import Path

import pytest
from fixture_cases import FIXTURES, Case, all_cases
from report_checks import BOM, check_outline

from injector import FileReport, Status, inject_source
from injector.locate import locate

NASTY = [c for c in all_cases() if c.id.startswith("nasty/") and c.applies]
TRAINS = [c for c in NASTY if c.expect["status"] == "changed"]


@cache
def _report(case: Case) -> FileReport:
    return inject_source(case.before, path=case.id)


def _encoding(data: bytes) -> str:
    return tokenize.detect_encoding(BytesIO(data).readline)[0]


def _endings(data: bytes) -> tuple[bool, bool, bool, bool]:
    """Whether there are CRLF, lone LF and lone CR endings, and a final one."""
    crlf = data.count(b"\r\n")
    lf, cr = data.count(b"\n") - crlf, data.count(b"\r") - crlf
    return bool(crlf), bool(lf), bool(cr), data.endswith((b"\n", b"\r"))


def test_the_corpus_has_every_shape() -> None:
    assert len([c for c in all_cases() if c.id.startswith("nasty/")]) == 19
    assert {c.expect["status"] for c in NASTY} == {"changed", "skipped"}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in TRAINS])
def test_the_output_keeps_the_input_layout(case: Case) -> None:
    before = case.before
    after = _report(case).new_source
    assert _encoding(after) == _encoding(before)
    assert after.startswith(BOM) == before.startswith(BOM)
    assert after.count(BOM) == before.count(BOM)
    assert _endings(after) == _endings(before)
    # A shebang and a coding cookie only count on the first two lines.
    assert after.splitlines()[:2] == before.splitlines()[:2]
    text = after.decode(_encoding(after))
    assert before.decode(_encoding(before)) != text
    compile(after, case.id, "exec", dont_inherit=True)


def test_latin1_stays_latin1() -> None:
    case = Case(FIXTURES / "nasty" / "latin1_cookie_after_shebang")
    after = _report(case).new_source
    assert b"caf\xe9" in after
    assert b"\xc3\xa9" not in after, "re-encoded as UTF-8 under a latin-1 cookie"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in NASTY])
def test_the_byte_outline_agrees_or_declines(case: Case) -> None:
    for data in (case.before, _report(case).new_source):
        vouched = check_outline(data)
        try:
            ast.parse(data)
        except SyntaxError:
            continue
        # The fast path must not give up on plain ASCII; it leaves lone CRs
        # and form feeds to ast on purpose.
        plain = data.isascii() and b"\x0c" not in data
        if plain and data.count(b"\r") == data.count(b"\r\n"):
            assert vouched, "the byte outline gave up on plain ASCII"


def test_the_locator_ranks_the_corpus(tmp_path: Path) -> None:
    for case in NASTY:
        name = case.id.removeprefix("nasty/")
        shutil.copy(case.folder / "before.py", tmp_path / f"train_{name}.py")
    scan = locate(tmp_path)
    found = {Path(c.path).name for c in scan.candidates}
    found |= {Path(e.path).name for e in scan.excluded}
    assert scan.files_seen == len(NASTY)
    trains = {f"train_{c.id.removeprefix('nasty/')}.py" for c in TRAINS}
    assert trains <= found


def test_skipped_files_come_back_untouched() -> None:
    skipped = [c for c in NASTY if c.expect["status"] == "skipped"]
    assert skipped
    for case in skipped:
        report = _report(case)
        assert report.status is Status.SKIPPED
        assert report.new_source == case.before
