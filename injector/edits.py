"""Planned insertions, applied to the tree; the new code and each insertion's line."""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst
from libcst._nodes.internal import CodegenState

from injector._matchers import children
from injector.result import Insertion, Point
from injector.script import Stmt

# "replace" swaps the anchor for one statement built from it (a framework hook).
Where = Literal["before", "after", "replace"]
LineOf = Callable[[cst.CSTNode], int]
# Planners indent with four spaces; files may use tabs or two spaces.
_LEADING_INDENT = re.compile(r"^(?:    )+", re.MULTILINE)


class SnippetError(ValueError):
    """A planned snippet did not parse: a bug in a planner, not in the user's file."""


@dataclass(eq=False)
class Edit:
    """New statements to put before or after an existing statement, in its block.

    `code` is what a planner wrote; `statements` are filled by `parse_snippets`.
    `reason` may name lines as `{0}`, `{1}`, ...: the lines, in the new file, of the
    statements in `evidence`.
    """

    anchor: Stmt
    where: Where
    code: str
    point: Point
    reason: str
    evidence: tuple[cst.BaseStatement, ...] = ()
    statements: list[cst.BaseStatement] = field(default_factory=list)


def parse_snippets(edits: Sequence[Edit], module: cst.Module) -> None:
    """Parse every edit's code in one go, with the file's indentation and newlines.

    One libcst parse per file instead of one per snippet: the parser's fixed cost
    is larger than that of a few dozen lines.
    """
    config = module.config_for_parsing
    indent = str(config.default_indent)
    pending = [edit for edit in edits if not edit.statements]
    counts: list[int] = []
    for edit in pending:
        try:
            counts.append(len(ast.parse(edit.code).body))
        except SyntaxError as error:
            raise SnippetError(f"planned code does not parse: {edit.code!r}") from error
    source = "".join(edit.code.rstrip("\n") + "\n" for edit in pending)
    source = _LEADING_INDENT.sub(lambda m: indent * (len(m.group(0)) // 4), source)
    try:
        parsed = cst.parse_module(source, config)
    except cst.ParserSyntaxError as error:
        raise SnippetError(f"planned code does not parse: {source!r}") from error
    body: list[cst.BaseStatement] = list(parsed.body)
    for edit, count in zip(pending, counts, strict=True):
        edit.statements, body = body[:count], body[count:]


def apply_edits(
    module: cst.Module, edits: Sequence[Edit]
) -> tuple[cst.Module, dict[int, cst.CSTNode]]:
    """Insert every edit's statements, rebuilding only the nodes on the way to them.

    Also returns what each rebuilt node became, by the id of the original.
    """
    on_path: set[int] = set()
    by_block: dict[int, list[Edit]] = {}
    for edit in edits:
        on_path.update(id(node) for node in edit.anchor.block.path)
        by_block.setdefault(id(edit.anchor.block.owner), []).append(edit)
    rebuilt: dict[int, cst.CSTNode] = {}
    result = _rebuild(module, on_path, by_block, rebuilt)
    for edit in edits:
        if edit.where == "replace":
            rebuilt[id(edit.anchor.node)] = edit.statements[0]
    assert isinstance(result, cst.Module)
    return result, rebuilt


def _rebuild(
    node: cst.CSTNode,
    on_path: set[int],
    by_block: dict[int, list[Edit]],
    rebuilt: dict[int, cst.CSTNode],
) -> cst.CSTNode:
    changes: dict[str, object] = {}
    for child in children(node):
        if id(child) in on_path:
            new_child = _rebuild(child, on_path, by_block, rebuilt)
            _replace_child(node, child, new_child, changes)
    block_edits = by_block.get(id(node))
    if block_edits:
        assert isinstance(node, cst.Module | cst.IndentedBlock)
        body = list(changes.get("body", node.body))  # type: ignore[call-overload]
        changes["body"] = _insert(body, block_edits)
    new_node = node.with_changes(**changes) if changes else node
    rebuilt[id(node)] = new_node
    return new_node


def _replace_child(
    parent: cst.CSTNode,
    old: cst.CSTNode,
    new: cst.CSTNode,
    changes: dict[str, object],
) -> None:
    for f in dataclasses.fields(parent):
        value = changes.get(f.name, getattr(parent, f.name))
        if value is old:
            changes[f.name] = new
            return
        if isinstance(value, tuple | list) and any(v is old for v in value):
            changes[f.name] = type(value)(new if v is old else v for v in value)
            return


def _insert(body: list[cst.CSTNode], edits: list[Edit]) -> list[cst.CSTNode]:
    # Later positions first, so earlier indexes stay valid; edits at one spot keep
    # their planned order.
    slots: dict[int, list[cst.BaseStatement]] = {}
    for edit in edits:
        if edit.where == "replace":
            body[edit.anchor.index] = edit.statements[0]
            continue
        slot = edit.anchor.index + (1 if edit.where == "after" else 0)
        slots.setdefault(slot, []).extend(edit.statements)
    for slot in sorted(slots, reverse=True):
        body[slot:slot] = slots[slot]
    return body


@dataclass
class _LineRecordingState(CodegenState):
    """Code generation that notes the line where chosen nodes start."""

    wanted: set[int] = field(default_factory=set)
    lines: dict[int, int] = field(default_factory=dict)
    _counted_tokens: int = 0
    _newlines: int = 0

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) not in self.wanted:
            return
        tokens = self.tokens
        # A file with CR-only line endings (old Mac editors) has no LF at all.
        newline = "\r" if self.default_newline == "\r" else "\n"
        for token in tokens[self._counted_tokens :]:
            self._newlines += token.count(newline)
        self._counted_tokens = len(tokens)
        self.lines[id(node)] = self._newlines + 1


def render(
    module: cst.Module,
    edits: Sequence[Edit],
    rebuilt: dict[int, cst.CSTNode],
    evidence: Sequence[cst.CSTNode] = (),
) -> tuple[str, list[Insertion], LineOf]:
    """The module's code, one Insertion per edit, and the line of any evidence node."""
    wanted = {id(edit.statements[0]) for edit in edits}
    noted = [*evidence, *(node for edit in edits for node in edit.evidence)]
    wanted.update(id(rebuilt.get(id(node), node)) for node in noted)
    state = _LineRecordingState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        wanted=wanted,
    )
    module._codegen(state)

    def line_of(node: cst.CSTNode) -> int:
        return _statement_line(rebuilt.get(id(node), node), state.lines)

    insertions = []
    for edit in edits:
        lines = [line_of(node) for node in edit.evidence]
        line = _statement_line(edit.statements[0], state.lines)
        reason = edit.reason.format(*lines)
        insertions.append(Insertion(edit.point, line, edit.code, reason))
    insertions.sort(key=lambda i: i.line)
    return "".join(state.tokens), insertions, line_of


def _statement_line(node: cst.CSTNode, lines: dict[int, int]) -> int:
    """The line of a statement's first token, past its leading comments and blanks."""
    line = lines[id(node)]
    line += len(getattr(node, "leading_lines", ()))
    if isinstance(node, cst.FunctionDef | cst.ClassDef):
        line += len(node.decorators) + len(node.lines_after_decorators)
    return line
