"""Properties every injector report keeps, on generated, mutated and odd inputs."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from string import Template

import hypothesmith
import pytest
from fixture_cases import Case, all_cases
from fuzzing import examples
from hypothesis import given
from hypothesis import strategies as st
from report_checks import BOM, check_report

from injector import InjectOptions, Point, Status, inject_source

SCRIPT_PATH = "experiments/toy/train.py"


# Lines tagged `#: ?flag` appear only with that flag; `#: >flag` indents the
# line one level deeper when the flag is on. `$name` placeholders are renamed.
TEMPLATE = '''\
"""Train a small classifier on random data."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
import wandb  #: ?tracked


class Net(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = nn.Linear(20, hidden)
        self.fc2 = nn.Linear(hidden, 2)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def parse_args():
    parser = argparse.ArgumentParser(description="toy classifier")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--accum", type=int, default=4)  #: ?accum
    return parser.parse_args()


def evaluate($model, loader):
    $model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += ($model(x).argmax(dim=1) == y).sum().item()
    return correct / len(loader.dataset)


def train($args, $model, $optimizer, loader):
    $model.train()
    try:  #: ?try
    for epoch in range($args.epochs):  #: >try
        for $step, (x, y) in enumerate(loader):  #: >try
            $loss = F.cross_entropy($model(x), y)  #: >try
            $loss = $loss / $args.accum  #: ?accum >try
            $loss.backward()  #: >try
            if ($step + 1) % $args.accum == 0:  #: ?accum >try
            $optimizer.step()  #: >try >accum
            $optimizer.zero_grad()  #: >try >accum
            if $step % $args.log_interval == 0:  #: ?print >try
                print(f"epoch {epoch} loss {$loss.item():.4f}")  #: ?print >try
    finally:  #: ?try
        print("training stopped")  #: ?try


def main():
    $args = parse_args()
    wandb.init(project="toy", config=vars($args))  #: ?tracked
    data = TensorDataset(torch.randn(256, 20), torch.randint(0, 2, (256,)))
    loader = DataLoader(data, batch_size=$args.batch_size, shuffle=True)
    $model = Net(32)
    $optimizer = torch.optim.SGD($model.parameters(), lr=$args.lr)
    train($args, $model, $optimizer, loader)
    print(f"accuracy {evaluate($model, loader):.3f}")
    wandb.finish()  #: ?tracked


if __name__ == "__main__":  #: ?guard
main()  #: >guard
'''
RENAMES = {
    "args": ["args", "opt", "hparams", "cfg", "config"],
    "loss": ["loss", "l", "total_loss", "batch_loss"],
    "optimizer": ["optimizer", "optim", "sgd"],
    "model": ["model", "net"],
    "step": ["i", "step", "batch_idx"],
}
FLAGS = ["tracked", "accum", "try", "print", "guard"]
EXTRA_LINES = ["", "   ", "# a note", "    # indented note", "\t# tabbed note"]


@dataclass(frozen=True)
class Shape:
    """One variant of the template: names, features, and layout."""

    names: dict[str, str]
    flags: frozenset[str]
    indent: str = "    "
    newline: str = "\n"
    final_newline: bool = True
    extra_lines: tuple[tuple[int, str], ...] = ()


PLAIN = Shape(
    {key: names[0] for key, names in RENAMES.items()}, frozenset({"print", "guard"})
)


def render(shape: Shape) -> bytes:
    lines = []
    for raw in TEMPLATE.splitlines():
        text, _, tag_text = raw.partition("  #: ")
        tags = tag_text.split()
        if any(t[0] == "?" and t[1:] not in shape.flags for t in tags):
            continue
        body = text.lstrip(" ")
        shifts = sum(t[0] == ">" and t[1:] in shape.flags for t in tags)
        depth = (len(text) - len(body)) // 4 + shifts
        lines.append(shape.indent * depth + body if body else "")
    for position, extra in shape.extra_lines:
        lines.insert(position % (len(lines) + 1), extra)
    text = shape.newline.join(lines) + (shape.newline if shape.final_newline else "")
    return Template(text).substitute(shape.names).encode("utf-8")


shapes = st.builds(
    Shape,
    names=st.fixed_dictionaries({k: st.sampled_from(v) for k, v in RENAMES.items()}),
    flags=st.frozensets(st.sampled_from(FLAGS)),
    indent=st.sampled_from(["    ", "  ", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    final_newline=st.booleans(),
    extra_lines=st.lists(
        st.tuples(st.integers(0, 200), st.sampled_from(EXTRA_LINES)), max_size=6
    ).map(tuple),
)
options = st.builds(
    InjectOptions,
    project=st.none() | st.sampled_from(["toy", "vision-runs"]),
    log_every=st.integers(1, 1000),
)


def test_template_renders_valid_python() -> None:
    # Guards the generator itself, so a broken template cannot pass as "unchanged".
    compile(render(PLAIN), "train.py", "exec", dont_inherit=True)
    assert PRINT_LINE in TRAINING


def test_template_gets_every_point() -> None:
    source = render(PLAIN)
    report = inject_source(source, path=SCRIPT_PATH)
    assert report.status is Status.CHANGED, report.reason
    points = {insertion.point for insertion in report.insertions}
    assert {Point.IMPORT, Point.INIT, Point.TRAIN_LOG, Point.FINISH} <= points
    check_report(source, report)


@examples(100)
@given(shape=shapes, options=options)
def test_mutated_training_scripts(shape: Shape, options: InjectOptions) -> None:
    source = render(shape)
    compile(source, "train.py", "exec", dont_inherit=True)
    check_report(source, inject_source(source, options, path=SCRIPT_PATH), options)


# Generated code rarely trains anything, so each sample is also tried with a
# training loop after it, which takes it past the prefilter into the planner.
LOOP_TAIL = (
    b"\nfor batch in loader:\n    loss = model(batch)\n"
    b"    loss.backward()\n    optimizer.step()\n"
)


@examples(70)
@given(hypothesmith.from_grammar())
def test_grammar_generated_sources(text: str) -> None:
    source = text.encode("utf-8", "surrogatepass")
    check_report(source, inject_source(source))
    with_loop = source + LOOP_TAIL
    check_report(with_loop, inject_source(with_loop))


@examples(30, filters=True)
@given(hypothesmith.from_node())
def test_node_generated_sources(text: str) -> None:
    # Given as str, which the injector encodes as UTF-8 itself.
    check_report(text.encode("utf-8"), inject_source(text))
    with_loop = text.encode("utf-8") + LOOP_TAIL
    check_report(with_loop, inject_source(with_loop))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in all_cases()])
def test_fixture_properties(case: Case) -> None:
    check_report(case.before, inject_source(case.before, path=f"{case.id}/train.py"))


@dataclass(frozen=True)
class Edge:
    source: bytes
    # Inputs that are still whole training scripts may be rewritten.
    may_change: bool = False
    # libcst's native parser can overflow the C stack and kill the interpreter.
    in_child: bool = False


TRAINING = render(PLAIN)
PRINT_LINE = b'print(f"epoch {epoch} loss {loss.item():.4f}")'
EDGES = {
    "empty": Edge(b""),
    "only-comments": Edge(b"# scratch notes\n\n# nothing to run yet\n"),
    "syntax-error": Edge(TRAINING.replace(b"def train(args,", b"def train(args")),
    "python2-print": Edge(TRAINING.replace(PRINT_LINE, b'print "loss", loss')),
    "undecodable-bytes": Edge(b"\xff\xfe" + TRAINING),
    "latin-1-cookie": Edge(
        b"# -*- coding: latin-1 -*-\n# r\xe9sum\xe9 of the caf\xe9 run\n" + TRAINING,
        may_change=True,
    ),
    "utf-8-bom": Edge(BOM + TRAINING, may_change=True),
    "crlf": Edge(TRAINING.replace(b"\n", b"\r\n"), may_change=True),
    "deep-parens": Edge(
        TRAINING + b"x = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n", in_child=True
    ),
    "deep-ifs": Edge(
        b"".join(b" " * depth + b"if x:\n" for depth in range(1000))
        + b" " * 1000
        + b"loss.backward()\n",
        in_child=True,
    ),
    # Flat to the eye, but each `+` nests one level deeper in the tree.
    "long-binary-chain": Edge(
        TRAINING + b"x = " + b" + ".join([b"1"] * 10000) + b"\n", in_child=True
    ),
    "very-long-line": Edge(
        TRAINING + b"WEIGHTS = [" + b", ".join(b"0.5" for _ in range(10000)) + b"]\n",
        may_change=True,
    ),
    "loop-on-one-line": Edge(
        b"for x in torch.randn(8, 2): loss = model(x).sum(); loss.backward(); "
        b"optimizer.step(); print(loss.item())\n",
        may_change=True,
    ),
    "null-bytes": Edge(
        TRAINING.replace(b"import argparse\n", b"import argparse\x00\n")
    ),
}
# Asks in a separate interpreter whether the injector survives the input.
CHILD = (
    "import sys\nfrom injector import inject_source\n"
    "print(inject_source(sys.stdin.buffer.read()).status)\n"
)


def _assert_survives_in_child(source: bytes) -> None:
    child = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", CHILD],
        input=source,
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == 0, (
        f"the injector killed the interpreter (exit {child.returncode}): "
        f"{child.stderr.decode(errors='replace')[-800:]}"
    )


@pytest.mark.parametrize("edge", [pytest.param(e, id=k) for k, e in EDGES.items()])
def test_edge_inputs(edge: Edge) -> None:
    if edge.in_child:
        _assert_survives_in_child(edge.source)
    report = inject_source(edge.source)
    check_report(edge.source, report)
    if not edge.may_change:
        assert report.status is not Status.CHANGED


def test_str_and_bytes_agree() -> None:
    from_bytes = inject_source(TRAINING, path=SCRIPT_PATH)
    from_str = inject_source(TRAINING.decode("utf-8"), path=SCRIPT_PATH)
    assert from_str.to_json() == from_bytes.to_json()
    assert from_str.new_source == from_bytes.new_source
