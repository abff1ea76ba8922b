"""Top-level units and import bindings, read from a file's bytes without parsing."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

# The unit of the `if __name__ == "__main__":` block. Code there never runs
# when another module imports this one.
MAIN_UNIT = "__main__"
# Every top-level definition, for `from module import *`.
ALL_NAMES = "*"

# Comments and string literals, matched from the left as the tokenizer reads
# them, so a quote in a comment or a hash in a string changes nothing.
_SKIPPED = re.compile(
    rb"#[^\n]*"
    rb"|'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''"
    rb'|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""'
    rb"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
    rb'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"',
    re.DOTALL,
)
# Both quotes as NUL, which read_outline has made sure the file does not hold.
_QUOTES_AS_NUL = bytes.maketrans(b"'\"", b"\0\0")
# A string keeps its length and its newlines (byte 10), so offsets and lines
# still hold; every other byte becomes an S.
_STRING_FILL = b"S" * 10 + b"\n" + b"S" * 245
# A line starting at column 0: found by its newline, a literal sre scans fast.
# Closing brackets end a call spread over lines, they start nothing.
_COLUMN_ZERO = re.compile(rb"\n[^\s)\]}]")
# Clauses that continue the compound statement above them.
_CLAUSE = re.compile(rb"(?:else|elif|except|finally)\b")
# The name is empty when it is not a plain name on the same line.
_DEFINITION = re.compile(rb"(?:async[ \t]+)?(?:def|class)\b[ \t]*(\w*)")
_COMPARE = rb"[ \t]*(?:==|!=|is[ \t]+not|is)[ \t]*"
# `__name__` compared with "__main__", either way round, as the only test.
_MAIN_GUARD = re.compile(
    rb"if[ \t]*\(?[ \t]*(?:__name__" + _COMPARE + rb"(['\"])__main__\1"
    rb"|(['\"])__main__\2" + _COMPARE + rb"__name__)[ \t]*\)?[ \t]*:"
)
_SPACE = rb"(?:[ \t]|\\\r?\n)"
# Found by its keyword, a literal sre scans for fast: `import` and `from ...
# import` are keywords, so outside strings they are always statements.
_IMPORT_KEYWORD = re.compile(rb"import\b")
_IMPORT = re.compile(
    rb"[ \t]*(?:from(?=[\s.\\])"
    + _SPACE
    + rb"*(?P<dots>\.*)"
    + _SPACE
    + rb"*(?P<module>[\w.]*)"
    # `from ..import x` needs no space after the dots.
    + rb"(?:(?<=\.)|"
    + _SPACE
    + rb"+)import\b"
    + _SPACE
    + rb"*(?:\((?P<grouped>[^)]*)\)|(?P<names>(?:[^\n;\\]|\\\r?\n)+))"
    rb"|import" + _SPACE + rb"+(?P<modules>(?:[^\n;\\]|\\\r?\n)+))"
)
_DOTTED = re.compile(rb"\w+(?:\.\w+)*")
# Every bracket as a parenthesis, so two counts give the nesting depth.
_PARENTHESES = bytes.maketrans(b"[]{}", b"()()")


@dataclass(frozen=True)
class Binding:
    """A name an import statement binds: `module` at relative `level`, and the
    imported `name`, or None when the module itself is bound."""

    module: str
    level: int
    name: str | None


@dataclass
class Outline:
    # Top-level definitions and the main block: name -> (first line, last line).
    units: dict[str, tuple[int, int]]
    main_line: int | None
    bindings: dict[str, Binding]
    # Lines that import statements span, where a name is bound, not used.
    import_lines: set[int]


class Unreadable(Exception):
    """A shape the byte reader cannot vouch for: the caller parses instead."""


def read_outline(data: bytes) -> Outline | None:
    """The outline of `data`, or None when only a parser can read it right:
    malformed text, non-ASCII names, odd line breaks or unbalanced brackets."""
    if b"\0" in data or b"\n\f" in data or data.count(b"\r") != data.count(b"\r\n"):
        return None
    try:
        data.decode()
        masked, spans = _mask(data)
        if not masked.isascii() or b"'" in masked or b'"' in masked:
            return None
        units, main_line = _units(data, masked, spans)
        bindings, import_lines = _imports(masked)
    except (UnicodeDecodeError, Unreadable):
        return None
    return Outline(units, main_line, bindings, import_lines)


def _mask(data: bytes) -> tuple[bytes, list[tuple[int, int]]]:
    """`data` with comments blanked and strings filled, and the spans of the
    strings that cross lines, where column 0 is no statement start."""
    pieces, spans, previous = [], [], 0
    # Where a token may start, found at memchr speed: an alternation of three
    # first bytes would make sre test every byte against a set instead.
    quotes = data.translate(_QUOTES_AS_NUL)
    quote, comment = quotes.find(b"\0"), data.find(b"#")
    while quote >= 0 or comment >= 0:
        start = comment if quote < 0 or 0 <= comment < quote else quote
        match = _SKIPPED.match(data, start)
        end = match.end() if match else start + 1
        if match:
            pieces.append(data[previous:start])
            token = match[0]
            if token.startswith(b"#"):
                pieces.append(b" " * (end - start))
            else:
                pieces.append(token.translate(_STRING_FILL))
                if b"\n" in token:
                    spans.append((start, end))
            previous = end
        if 0 <= quote < end:
            quote = quotes.find(b"\0", end)
        if 0 <= comment < end:
            comment = data.find(b"#", end)
    pieces.append(data[previous:])
    return b"".join(pieces), spans


def _statement_starts(masked: bytes, spans: list[tuple[int, int]]) -> list[int]:
    """Offsets of the top-level statements: at column 0, outside brackets,
    strings and backslash continuations, and not an else-like clause."""
    span_starts = [start for start, _ in spans]
    parentheses = masked.translate(_PARENTHESES)
    # With a newline in front, the first line is found like the others.
    offsets = [match.start() for match in _COLUMN_ZERO.finditer(b"\n" + masked)]
    starts, depth, previous = [], 0, 0
    for offset in offsets:
        depth += _depth_change(parentheses, previous, offset)
        previous = offset
        if depth < 0:
            raise Unreadable
        index = bisect_left(span_starts, offset) - 1
        if depth or (index >= 0 and offset < spans[index][1]):
            continue
        if not _continued(masked, offset) and not _CLAUSE.match(masked, offset):
            starts.append(offset)
    if depth + _depth_change(parentheses, previous, len(masked)):
        raise Unreadable
    return starts


def _continued(masked: bytes, offset: int) -> bool:
    """Whether the line before `offset` ends in a backslash continuation."""
    end = offset - 1
    if masked[end - 1 : end] == b"\r":
        end -= 1
    return masked[end - 1 : end] == b"\\"


def _depth_change(parentheses: bytes, start: int, end: int) -> int:
    return parentheses.count(b"(", start, end) - parentheses.count(b")", start, end)


def _units(
    data: bytes, masked: bytes, spans: list[tuple[int, int]]
) -> tuple[dict[str, tuple[int, int]], int | None]:
    starts = _statement_starts(masked, spans)
    units: dict[str, tuple[int, int]] = {}
    main_line = None
    line, previous, decorated = 1, 0, None
    for index, start in enumerate(starts):
        line += masked.count(b"\n", previous, start)
        previous = start
        if masked.startswith(b"@", start):
            decorated = decorated or line
            continue
        first, decorated = decorated or line, None
        end = starts[index + 1] if index + 1 < len(starts) else len(masked)
        last = line + masked[start:end].rstrip().count(b"\n")
        definition = _DEFINITION.match(masked, start)
        if definition and not definition[1]:
            raise Unreadable
        if definition:
            units[definition[1].decode()] = (first, last)
        elif _MAIN_GUARD.match(data, start):
            units[MAIN_UNIT] = (line, last)
            main_line = line
    return units, main_line


def _imports(masked: bytes) -> tuple[dict[str, Binding], set[int]]:
    bindings: dict[str, Binding] = {}
    import_lines: set[int] = set()
    line, previous, covered = 1, 0, 0
    for keyword in _IMPORT_KEYWORD.finditer(masked):
        before = masked[keyword.start() - 1 : keyword.start()]
        if keyword.start() < covered or before.isalnum() or before == b"_":
            continue
        match = _import_statement(masked, keyword.start())
        line += masked.count(b"\n", previous, match.start())
        previous, covered = match.start(), match.end()
        last = line + match[0].count(b"\n")
        import_lines.update(range(line, last + 1))
        _bind(match, bindings)
    return bindings, import_lines


def _import_statement(masked: bytes, keyword: int) -> re.Match[bytes]:
    """The import statement holding `keyword`: it starts its line, or follows
    a `;` or a one-line block's `:` there."""
    line_start = masked.rfind(b"\n", 0, keyword) + 1
    # `from a \` over two lines: rare enough to leave to the parser.
    if line_start and _continued(masked, line_start):
        raise Unreadable
    after_semicolon = masked.rfind(b";", line_start, keyword) + 1
    after_colon = masked.rfind(b":", line_start, keyword) + 1
    match = _IMPORT.match(masked, max(line_start, after_semicolon, after_colon))
    if match is None or match.end() <= keyword:
        raise Unreadable
    return match


def _bind(match: re.Match[bytes], bindings: dict[str, Binding]) -> None:
    if match["modules"] is not None:
        for module, alias in _aliases(match["modules"]):
            # `import a.b` binds `a`, and the code reads `a.b.name`.
            bindings[alias or module] = Binding(module, 0, None)
        return
    names = match["grouped"] if match["grouped"] is not None else match["names"]
    if match["module"] and not _DOTTED.fullmatch(match["module"]):
        raise Unreadable
    level, module = len(match["dots"]), match["module"].decode()
    for name, alias in _aliases(names, star=True):
        bindings[alias or name] = Binding(module, level, name)


def _aliases(text: bytes, star: bool = False) -> list[tuple[str, str | None]]:
    """(name, alias or None) for each `name [as alias]` in an import's list."""
    parts = text.replace(b"\\\r\n", b" ").replace(b"\\\n", b" ").split(b",")
    if star and [part.strip() for part in parts] == [b"*"]:
        return [(ALL_NAMES, None)]
    # One trailing comma is allowed, inside parentheses.
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()
    aliases: list[tuple[str, str | None]] = []
    for part in parts:
        words = part.split()
        if len(words) == 1 and _DOTTED.fullmatch(words[0]):
            aliases.append((words[0].decode(), None))
        elif len(words) == 3 and words[1] == b"as" and _DOTTED.fullmatch(words[0]):
            aliases.append((words[0].decode(), words[2].decode()))
        else:
            raise Unreadable
    return aliases
