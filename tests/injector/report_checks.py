"""What every injector report must satisfy, whatever the input: shared by the tests
and the long fuzzing run."""

from __future__ import annotations

import ast
import json
import tokenize
from io import BytesIO

import libcst as cst

from injector import FileReport, InjectOptions, Point, Status, inject_source
from injector.locate.outline import read_outline
from injector.locate.tree import parse_outline

BOM = b"\xef\xbb\xbf"


def check_report(
    source: bytes, report: FileReport, options: InjectOptions | None = None
) -> None:
    """Assert what must hold for any input, whatever the injector decided."""
    assert isinstance(report.status, Status)
    assert report.source == source
    json.dumps(report.to_json())
    check_outline(source)
    if report.status is Status.CHANGED:
        _check_changed(source, report, options)
    else:
        assert report.new_source == source, "an untouched file must keep its bytes"
        assert report.reason.strip(), f"{report.status} needs a reason"
        assert report.insertions == []


def _check_changed(
    source: bytes, report: FileReport, options: InjectOptions | None
) -> None:
    new_source = report.new_source
    assert new_source != source
    cst.parse_module(new_source)
    check_outline(new_source)
    assert report.insertions, "a changed file records what was inserted"
    ast.parse(new_source)
    compile(new_source, report.path, "exec", dont_inherit=True)
    # A framework hook edits the call it switches on (`report_to=`, `logger=`);
    # the five manual points only ever add lines.
    hooks = [i for i in report.insertions if i.point is Point.INTEGRATION]
    _check_only_insertions(source, new_source, changed=len(hooks))
    _check_init_count(source, new_source)
    _check_insertion_lines(report)
    _check_encoding_kept(source, new_source)
    again = inject_source(new_source, options, path=report.path)
    # A second run must find nothing to add. It may say so as UNCHANGED or, since
    # the file now uses wandb, as SKIPPED; either way without touching a byte.
    assert again.status in (Status.UNCHANGED, Status.SKIPPED), again.reason
    assert again.new_source == new_source


def _init_calls(source: bytes) -> int:
    """Calls to wandb.init under any import alias; mentions in text do not count."""
    tree = ast.parse(source)
    modules, functions = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "wandb"}
        elif isinstance(node, ast.ImportFrom) and node.module == "wandb":
            functions |= {a.asname or a.name for a in node.names if a.name == "init"}
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
    return sum(
        (isinstance(f, ast.Name) and f.id in functions)
        or (
            isinstance(f, ast.Attribute)
            and f.attr == "init"
            and isinstance(f.value, ast.Name)
            and f.value.id in modules
        )
        for f in calls
    )


def _check_init_count(source: bytes, new_source: bytes) -> None:
    before, after = _init_calls(source), _init_calls(new_source)
    if before:
        assert after == before, "a script that starts a run must not get another"
    else:
        assert after <= 1, f"{after} calls to wandb.init"


def _check_only_insertions(source: bytes, new_source: bytes, changed: int = 0) -> None:
    """The old lines appear in order in the new file, but for at most `changed`
    lines that a framework hook edited."""
    new_lines = new_source.splitlines()
    missing = [line for line in source.splitlines() if line not in new_lines]
    assert len(missing) <= changed, f"input lines lost or changed: {missing!r}"
    # `in` on an iterator consumes it, so this asks for the kept lines in order.
    remaining = iter(new_lines)
    for number, line in enumerate(source.splitlines(), start=1):
        if line not in missing:
            assert line in remaining, f"input line {number} out of order: {line!r}"


def _check_insertion_lines(report: FileReport) -> None:
    encoding, _ = tokenize.detect_encoding(BytesIO(report.new_source).readline)
    lines = report.new_source.splitlines()
    for insertion in report.insertions:
        assert insertion.code.strip(), f"empty insertion for {insertion.point}"
        assert 1 <= insertion.line <= len(lines), insertion
        first = insertion.code.splitlines()[0].strip()
        assert first in lines[insertion.line - 1].decode(encoding), insertion


def _check_encoding_kept(source: bytes, new_source: bytes) -> None:
    assert new_source.startswith(BOM) == source.startswith(BOM)
    ends = (b"\n", b"\r")
    assert new_source.endswith(ends) == source.endswith(ends), "final newline"
    if b"\r" not in source:
        assert b"\r" not in new_source
    elif source.count(b"\n") == source.count(b"\r\n"):
        assert new_source.count(b"\n") == new_source.count(b"\r\n"), "mixed endings"


def check_outline(data: bytes) -> bool:
    """The byte outline never raises, and agrees with ast on any file ast reads
    that it vouches for. Returns whether it vouched."""
    outline = read_outline(data)
    if outline is None:
        return False
    try:
        expected = parse_outline(data, "<fuzz>")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # A file Python rejects has no right outline; the locator ranks it anyway.
        return True
    assert outline == expected, "the byte outline disagrees with ast"
    return True
