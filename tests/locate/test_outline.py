"""The byte outline agrees with ast wherever it vouches for a file."""

from __future__ import annotations

import ast
from pathlib import Path
from textwrap import dedent, indent

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from injector.locate.outline import Binding, read_outline
from injector.locate.tree import parse_outline

ROOT = Path(__file__).resolve().parents[2]
# Training scripts and our own code: every shape the locator meets in practice.
CORPUS = sorted(
    path
    for folder in ("tests", "examples", "injector", "bot", "bench")
    for path in (ROOT / folder).rglob("*.py")
)


def _agrees(data: bytes) -> bool:
    """Whether the outline vouched for `data`; fails when it vouched wrongly."""
    outline = read_outline(data)
    if outline is None:
        return False
    assert outline == parse_outline(data, "<test>")
    return True


def test_the_outline_matches_ast_on_every_corpus_file() -> None:
    vouched = 0
    for path in CORPUS:
        data = path.read_bytes()
        try:
            ast.parse(data)
        except SyntaxError:
            continue
        vouched += _agrees(data)
    # The outline is the fast path: it must read nearly every real file itself.
    assert vouched >= 0.9 * len(CORPUS), (vouched, len(CORPUS))


TRICKY = {
    "keywords-in-strings": '''
        """import os
        def not_a_function():
        """
        text = "from x import y; import z"
        def real(): pass
    ''',
    "multiline-string-at-column-0": '''
        def f():
            return """
        class NotAClass:
            pass
        """
        class Real:
            pass
    ''',
    "continuations": """
        from a.b \\
            import c
        import d, \\
            e as f
        x = 1 + \\
        2
        def g(): pass
    """,
    "grouped-and-relative": """
        from . import (one, two as three,)
        from ..pkg.sub import *
        from .. import four
    """,
    "semicolons-and-one-line-blocks": """
        import a; import b as c
        if True: import d
        class K: import e
        try: import f
        except ImportError: f = None
    """,
    "decorated": """
        @decorator
        @other(
            arg=1,
        )
        def decorated(): pass

        @dataclass
        class Config:
            lr: float = 0.1
    """,
    "main-guards": """
        if __name__ == '__main__':
            main()
    """,
    "reversed-main-guard": """
        def main(): pass
        if "__main__" == __name__:
            main()
    """,
    "not-a-main-guard": """
        if __name__ == "__main__" and False:
            pass
    """,
    "brackets-across-lines": """
        values = [
        1,
        ]
        call(
        )
        def after(): pass
    """,
    "else-clauses": """
        if x:
            import a
        elif y:
            import b
        else:
            import c
        try:
            pass
        except Exception:
            pass
        finally:
            import d
    """,
    "comments-with-quotes": """
        # it's a comment with "quotes" and import words
        import os  # don't
        def f(): pass  # "
    """,
    "escapes-in-strings": r"""
        a = 'it\'s'
        b = "a \" quote"
        c = r"\\"
        d = f"{a!r} and {b}"
        def g(): pass
    """,
    "async-and-nested": """
        async def serve():
            import inner
            async with lock:
                import deeper
        class Outer:
            def method(self):
                from x import y
    """,
    # Found by fuzzing: the dots need no space before `import`.
    "dots-without-spaces": """
        from ..import*
        from .import one, two as three
    """,
    "crlf": "import os\r\ndef f():\r\n    pass\r\n",
    "non-ascii-in-strings": "x = 'é'  # ü\ndef f(): pass\n",
}


@pytest.mark.parametrize("source", TRICKY.values(), ids=TRICKY.keys())
def test_the_outline_matches_ast_on_tricky_shapes(source: str) -> None:
    data = dedent(source).encode()
    ast.parse(data)
    _agrees(data)


def test_the_outline_reads_bindings_and_units() -> None:
    data = dedent("""
        import torch.nn as nn
        from .engine import train_one_epoch as train


        @decorator
        def main():
            pass


        if __name__ == "__main__":
            main()
    """).encode()
    outline = read_outline(data)
    assert outline is not None
    assert outline.bindings == {
        "nn": Binding("torch.nn", 0, None),
        "train": Binding("engine", 1, "train_one_epoch"),
    }
    assert outline.units == {"main": (6, 8), "__main__": (11, 12)}
    assert outline.main_line == 11
    assert outline.import_lines == {2, 3}


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("déf = 1\n", id="non-ascii-name"),
        pytest.param("x = (\n", id="unbalanced"),
        pytest.param("x = 1\rdef f(): pass\n", id="lone-carriage-return"),
        pytest.param("x = '''never closed\n", id="unclosed-string"),
        pytest.param(b"\xff\xfe = 1\n", id="undecodable"),
    ],
)
def test_shapes_only_a_parser_reads_are_refused(source: str | bytes) -> None:
    data = source if isinstance(source, bytes) else source.encode()
    assert read_outline(data) is None


GENERATED = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _nested(snippet: str, wrapper: str) -> str:
    """`snippet` as the body of `wrapper` (a block opener), or alone when empty."""
    if not wrapper:
        return snippet
    return wrapper + "\n" + indent(snippet, "    ") + "    pass\n"


# Tricky shapes in any order, some inside blocks: where one shape ends and the
# next begins is where a byte reader goes wrong.
MIXED_PROGRAMS = st.lists(
    st.tuples(
        st.sampled_from([dedent(s) for s in TRICKY.values()]),
        st.sampled_from(["", "if flag:", "def wrapper():", "class Box:"]),
    ),
    min_size=1,
    max_size=6,
).map(lambda parts: "".join(_nested(s.replace("\r\n", "\n"), w) for s, w in parts))


@GENERATED
@given(MIXED_PROGRAMS)
def test_the_outline_matches_ast_on_mixed_shapes(source: str) -> None:
    data = source.encode()
    ast.parse(data)
    _agrees(data)


@GENERATED
@given(hypothesmith.from_grammar())
def test_the_outline_matches_ast_on_generated_programs(source: str) -> None:
    data = source.encode()
    try:
        ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    _agrees(data)
