"""Mutations of real training scripts: statements moved, names changed, code wrapped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import libcst as cst
from hypothesis import strategies as st

Body = list[cst.BaseStatement]
BlockEdit = Callable[[Body, int], Body]

# Lines that use wandb in part: what a half-tracked script already holds.
WANDB_SNIPPETS = [
    "import wandb\n",
    "import wandb as wb\n",
    "from wandb import init, log\n",
    'wandb.init(project="half")\n',
    'wandb.log({"loss": 0.0})\n',
    "wandb.finish()\n",
    "try:\n    import wandb\nexcept ImportError:\n    wandb = None\n",
    "if use_wandb:\n    import wandb\n    wandb.init()\n",
    'run = wandb.init(mode="disabled")\n',
    'os.environ["WANDB_MODE"] = "offline"\n',
]
# Headers a run of statements is wrapped in; the body replaces the `pass`.
WRAPPERS = [
    "def wrapped():\n    pass\n",
    "async def wrapped():\n    pass\n",
    "class Wrapped:\n    pass\n",
    "if flag:\n    pass\n",
    "with context():\n    pass\n",
    "for _ in range(1):\n    pass\n",
    "while True:\n    pass\n",
    "try:\n    pass\nexcept KeyboardInterrupt:\n    pass\n",
    "try:\n    pass\nfinally:\n    cleanup()\n",
    "@decorate\ndef wrapped():\n    pass\n",
]
NEW_NAMES = ["args", "config", "loss", "wandb", "model", "opt", "step", "x_2", "_"]
INDENTS = ["\t", "  ", " ", "        ", " \t"]


class _EditBlock(cst.CSTTransformer):
    """Applies `edit` to the statements of the `target`-th block in preorder."""

    def __init__(self, target: int, edit: BlockEdit, pick: int) -> None:
        super().__init__()
        self.target, self.edit, self.pick = target, edit, pick
        self.seen = 0
        # Preorder numbers of the blocks being visited, innermost last.
        self.stack: list[int] = []

    def _enter(self) -> bool:
        self.stack.append(self.seen)
        self.seen += 1
        return True

    def _edited(self, body: Sequence[cst.BaseStatement]) -> Body | None:
        if self.stack.pop() != self.target:
            return None
        return self.edit(list(body), self.pick) or [cst.parse_statement("pass\n")]

    def visit_Module(self, node: cst.Module) -> bool:
        return self._enter()

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        return self._enter()

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        body = self._edited(updated.body)
        return updated if body is None else updated.with_changes(body=body)

    def leave_IndentedBlock(
        self, original: cst.IndentedBlock, updated: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        body = self._edited(updated.body)
        return updated if body is None else updated.with_changes(body=body)


class _CountBlocks(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 1

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.count += 1


class _Rename(cst.CSTTransformer):
    def __init__(self, old: str, new: str) -> None:
        super().__init__()
        self.old, self.new = old, new

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        return (
            updated.with_changes(value=self.new)
            if updated.value == self.old
            else updated
        )


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


class _Reindent(cst.CSTTransformer):
    """Gives the `target`-th block its own indent, mixing it with its neighbours'."""

    def __init__(self, target: int, indent: str) -> None:
        super().__init__()
        self.target, self.indent, self.seen = target, indent, 0

    def leave_IndentedBlock(
        self, original: cst.IndentedBlock, updated: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        self.seen += 1
        if self.seen - 1 != self.target:
            return updated
        return updated.with_changes(indent=self.indent)


def _delete(body: Body, pick: int) -> Body:
    del body[pick % len(body)]
    return body


def _duplicate(body: Body, pick: int) -> Body:
    index = pick % len(body)
    return body[: index + 1] + body[index:]


def _swap(body: Body, pick: int) -> Body:
    index = pick % len(body)
    other = (index + 1) % len(body)
    body[index], body[other] = body[other], body[index]
    return body


def _wrap(body: Body, pick: int) -> Body:
    start = pick % len(body)
    end = start + 1 + (pick // 7) % 3
    wrapper = cst.parse_statement(WRAPPERS[(pick // 31) % len(WRAPPERS)])
    inner = wrapper.body.with_changes(body=body[start:end])  # type: ignore[attr-defined]
    return [*body[:start], wrapper.with_changes(body=inner), *body[end:]]


def _insert_wandb(body: Body, pick: int) -> Body:
    snippet = cst.parse_statement(WANDB_SNIPPETS[(pick // 13) % len(WANDB_SNIPPETS)])
    index = pick % (len(body) + 1)
    return [*body[:index], snippet, *body[index:]]


BLOCK_EDITS: dict[str, BlockEdit] = {
    "delete": _delete,
    "duplicate": _duplicate,
    "swap": _swap,
    "wrap": _wrap,
    "insert-wandb": _insert_wandb,
}


@dataclass(frozen=True)
class Mutation:
    """One change: `kind`, applied where the two numbers point."""

    kind: str
    where: int
    pick: int

    def apply(self, module: cst.Module) -> cst.Module:
        if self.kind in BLOCK_EDITS:
            counter = _CountBlocks()
            module.visit(counter)
            target = self.where % counter.count
            edit = _EditBlock(target, BLOCK_EDITS[self.kind], self.pick)
            return module.visit(edit)
        if self.kind == "rename":
            finder = _Names()
            module.visit(finder)
            names = sorted(finder.names)
            if not names:
                return module
            old = names[self.where % len(names)]
            return module.visit(_Rename(old, NEW_NAMES[self.pick % len(NEW_NAMES)]))
        if self.kind == "reindent":
            return module.visit(_Reindent(self.where, INDENTS[self.pick % 5]))
        if self.kind == "default-indent":
            return module.with_changes(default_indent=INDENTS[self.pick % 5])
        raise ValueError(self.kind)


KINDS = [*BLOCK_EDITS, "rename", "reindent", "default-indent"]


@dataclass(frozen=True)
class Layout:
    """How the mutated text is stored: newline style, BOM, encoding cookie."""

    newline: str = "\n"
    bom: bool = False
    latin1_cookie: bool = False
    trailing_newline: bool = True
    # Emacs page breaks: a form feed opening some top-level lines.
    form_feeds: bool = False

    def encode(self, module: cst.Module) -> bytes:
        module = module.with_changes(
            default_newline=self.newline, has_trailing_newline=self.trailing_newline
        )
        code = module.code
        if self.form_feeds:
            code = code.replace(f"{self.newline}def ", f"{self.newline}\x0cdef ")
        if self.newline != "\n":
            # Newlines libcst kept verbatim (in strings and comments) follow too.
            code = code.replace("\r\n", "\n").replace("\n", self.newline)
        if self.latin1_cookie:
            cookie = f"# -*- coding: latin-1 -*-{self.newline}# caf\xe9{self.newline}"
            return (cookie + code).encode("latin-1", "replace")
        return (b"\xef\xbb\xbf" if self.bom else b"") + code.encode("utf-8")


def mutate(source: bytes, mutations: Sequence[Mutation], layout: Layout) -> bytes:
    module = cst.parse_module(source)
    for mutation in mutations:
        module = mutation.apply(module)
    return layout.encode(module)


mutations = st.lists(
    st.builds(
        Mutation,
        kind=st.sampled_from(KINDS),
        where=st.integers(0, 500),
        pick=st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=5,
)


# Odd layouts often make a file one Python or libcst refuses (a BOM with a
# latin-1 cookie, a form feed opening a statement): drawn rarely enough that
# most inputs still reach the injector's planning.
def _one_in(n: int) -> st.SearchStrategy[bool]:
    return st.sampled_from([False] * (n - 1) + [True])


layouts = st.builds(
    Layout,
    newline=st.sampled_from(["\n", "\n", "\n", "\r\n", "\r\n", "\r"]),
    bom=_one_in(4),
    latin1_cookie=_one_in(4),
    trailing_newline=_one_in(5).map(lambda drawn: not drawn),
    form_feeds=_one_in(8),
)
