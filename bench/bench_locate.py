"""Time locate() on generated repositories against grep -rlE for the same markers."""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from timing import timed

from injector.locate import Scan, locate
from injector.locate.clues import GREP_PATTERN, MAIN_MARKER, PREFILTER
from injector.locate.project import read_bytes

GOAL_RATIO = 2.0

HELPER = '''
class {name}:
    """Keeps the {word} values of one run and reports them."""

    def __init__(self, size: int, label: str = "{word}") -> None:
        self.size = size
        self.label = label
        self.values = [index * {seed} for index in range(size)]

    def summary(self, values: list[int]) -> float:
        total = 0
        for value in values:
            if value % 3 == 0:
                total += value * self.size
            else:
                total -= len(self.label)
        return total / max(1, len(values))

'''
LOOP = """
def train_one_epoch(model, loader, optimizer, scaler):
    model.train()
    for batch in loader:
        loss = model(batch).mean()
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
"""
ENTRY = """
import argparse

from {module} import train_one_epoch


def main(args):
    for epoch in range(args.epochs):
        train_one_epoch(None, [], None, None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    main(parser.parse_args())
"""
SCRIPT = ENTRY.replace("from {module} import train_one_epoch\n", LOOP)
TOOL = 'if __name__ == "__main__":\n    print({seed})\n'


@dataclass(frozen=True)
class Shape:
    """How a generated tree is laid out; counts are per 1,000 files."""

    name: str
    files: int
    depth: int
    helpers_per_file: tuple[int, int]
    scripts: int
    entries: int
    loops: int
    tools: int
    ruled_out: int


SHAPES = (
    Shape("synthetic", 5_000, 2, (2, 12), 15, 10, 20, 10, 40),
    Shape("real-shaped", 20_000, 6, (1, 60), 8, 8, 12, 25, 60),
)


def _source(rng: random.Random, shape: Shape, index: int) -> str:
    count = rng.randint(*shape.helpers_per_file)
    word = rng.choice(("loss", "batch", "metric", "token", "image"))
    return "".join(
        HELPER.format(name=f"Helper{index}x{n}", word=word, seed=index + n)
        for n in range(count)
    )


def _folder(rng: random.Random, shape: Shape, index: int) -> str:
    depth = rng.randint(1, shape.depth)
    return "/".join(f"pkg{(index >> (3 * level)) % 8}" for level in range(depth))


def build_tree(root: Path, shape: Shape, seed: int = 7) -> None:
    """Mostly plain modules; per 1,000 files a few scripts, entries with their
    engines, libraries with loops, command-line tools and ruled-out files."""
    rng = random.Random(seed)
    kinds = (
        ["script"] * shape.scripts
        + ["entry"] * shape.entries
        + ["loop"] * shape.loops
        + ["tool"] * shape.tools
        + ["ruled_out"] * shape.ruled_out
    )
    special = {i * (1000 // len(kinds)) + 3: kind for i, kind in enumerate(kinds)}
    for index in range(shape.files):
        folder = _folder(rng, shape, index)
        kind = special.get(index % 1000)
        text = _source(rng, shape, index)
        name = f"module{index}.py"
        if kind == "script":
            name, text = f"train_{index}.py", text + SCRIPT
        elif kind == "entry":
            engine = f"engine{index}"
            _write(root / folder / f"{engine}.py", text + LOOP)
            name, text = f"main_{index}.py", ENTRY.format(module=engine)
        elif kind == "loop":
            text += LOOP
        elif kind == "tool":
            text += TOOL.format(seed=index)
        elif kind == "ruled_out":
            folder = f"{rng.choice(('tests', 'docs', 'third_party'))}/{folder}"
            text += LOOP
        _write(root / folder / name, text)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _grep(root: Path) -> int:
    result = subprocess.run(
        ["grep", "-rlE", GREP_PATTERN, str(root)],
        capture_output=True,
        check=False,
    )
    return len(result.stdout.splitlines())


def _read_and_prefilter(root: Path) -> int:
    """The least any Python scan does: read every file, run both byte tests."""
    matched = 0
    for folder, _, names in os.walk(root):
        for name in names:
            data = read_bytes(os.path.join(folder, name))
            matched += PREFILTER.search(data) is not None or MAIN_MARKER in data
    return matched


def _best(run: Callable[[], object], repeat: int) -> float:
    return min(timed(run)[0] for _ in range(repeat))


def _measure(shape: Shape, repeat: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory(prefix="bench-locate-") as folder:
        root = Path(folder)
        build_tree(root, shape)
        # One warm-up each, so both read from the page cache.
        matched = _grep(root)
        scan: Scan = locate(root)
        grep_time = _best(lambda: _grep(root), repeat)
        locate_time = _best(lambda: locate(root), repeat)
        floor_time = _best(lambda: _read_and_prefilter(root), repeat)
    roles: dict[str, int] = {}
    for candidate in scan.candidates:
        roles[candidate.role] = roles.get(candidate.role, 0) + 1
    print(
        f"{shape.name}: {scan.files_seen} files walked, {scan.files_parsed} parsed,"
        f" {len(scan.candidates)} candidates {roles}, {len(scan.excluded)} excluded;"
        f" grep matched {matched} files"
    )
    return locate_time, grep_time, floor_time


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="best of N (default 5)")
    args = parser.parse_args(argv)
    figures = [(shape, *_measure(shape, args.repeat)) for shape in SHAPES]
    print(
        f"\n{'tree':<14}{'files':>8}{'locate s':>10}{'grep s':>9}{'ratio':>8}"
        f"{'floor':>8}"
    )
    for shape, locate_time, grep_time, floor_time in figures:
        print(
            f"{shape.name:<14}{shape.files:>8}{locate_time:>10.3f}"
            f"{grep_time:>9.3f}{locate_time / grep_time:>7.2f}x"
            f"{floor_time / grep_time:>7.2f}x"
        )
    print("floor: a bare Python loop reading each file and running the prefilter")
    worst = max(figure[1] / figure[2] for figure in figures)
    verdict = "met" if worst <= GOAL_RATIO else "NOT met"
    print(f"goal: within {GOAL_RATIO}x of grep on every tree -> {verdict}")


if __name__ == "__main__":
    main()
