"""The C prefilter agrees with the Python one, file by file, and fails alike."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import require_module

from injector.locate import prefilter

ROOT = Path(__file__).resolve().parents[2]
HOW_TO_BUILD = "pip install -e . where a C compiler (gcc) and Python headers are"
# Pieces that make or almost make a marker, so generated files hit the edges:
# a marker at the very start or end, split by a byte, or with the wrong dot.
PIECES = [
    b"backward(",
    b"backwar(",
    b".step(",
    b"step(",
    b".fit(",
    b"fit(",
    b".train(",
    b"train(",
    b"scaler(",
    b"LightningCLI(",
    b"__main__",
    b"__main_",
    b"(",
    b"d(",
    b"\0",
    b"\n",
    b"x",
    b"\xff",
]


@pytest.fixture(scope="module")
def read_marked_in_c() -> object:
    require_module("injector.locate._prefilter", HOW_TO_BUILD)
    from injector.locate._prefilter import read_marked

    return read_marked


def test_the_locator_uses_the_c_reader_when_it_is_built(read_marked_in_c: object):
    assert prefilter.read_marked is read_marked_in_c


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_both_readers_flag_the_same_bytes(read_marked_in_c, tmp_path_factory, pieces):
    path = tmp_path_factory.mktemp("prefilter") / "file.py"
    path.write_bytes(b"".join(pieces))
    assert read_marked_in_c(str(path)) == prefilter.read_marked_python(str(path))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"loss.backward()",
        b"(" * 70_000 + b"optimizer.step()",
        b"x" * 300_000 + b'\nif __name__ == "__main__":\n',
        b"x" * (1 << 16),
        b"x" * ((1 << 16) - 1) + b"LightningCLI(",
    ],
    ids=["empty", "marker", "past-first-read", "big", "one-read-exactly", "at-end"],
)
def test_both_readers_agree_on_sizes_around_the_first_read(
    read_marked_in_c, tmp_path: Path, data: bytes
):
    path = tmp_path / "file.py"
    path.write_bytes(data)
    flags, returned = read_marked_in_c(str(path))
    assert (flags, returned) == prefilter.read_marked_python(str(path))
    assert returned is None or returned == data


def test_both_readers_agree_on_every_python_file_here(read_marked_in_c):
    paths = [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts]
    assert len(paths) > 100
    for path in paths:
        expected = prefilter.read_marked_python(str(path))
        assert read_marked_in_c(str(path)) == expected, path


@pytest.mark.parametrize(
    ("name", "code"),
    [("missing.py", errno.ENOENT), ("folder", errno.EISDIR)],
)
def test_both_readers_raise_the_same_os_error(
    read_marked_in_c, tmp_path: Path, name: str, code: int
):
    (tmp_path / "folder").mkdir()
    path = str(tmp_path / name)
    for reader in (read_marked_in_c, prefilter.read_marked_python):
        with pytest.raises(OSError) as raised:
            reader(path)
        assert raised.value.errno == code
    assert raised.value.filename == path or code == errno.EISDIR
