"""Time locate() on generated repositories against grep -rlE for the same markers.

Both wall-clock and CPU time (user + system) are printed: grep and locate each
use one core, and CPU time holds steadier on a machine that is busy.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from injector.locate import Scan, locate, prefilter
from injector.locate.clues import GREP_PATTERN

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
import gc

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
    """The least any scan does: read every file and test it for the markers,
    with the locator's own reader."""
    matched = 0
    for folder, _, names in os.walk(root):
        for name in names:
            matched += prefilter.read_marked(os.path.join(folder, name))[0] != 0
    return matched


@dataclass(frozen=True)
class Figures:
    wall: float
    cpu: float


def _cpu_seconds(children: bool) -> float:
    usage = resource.getrusage(
        resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    )
    return usage.ru_utime + usage.ru_stime


def _best(run: Callable[[], object], repeat: int, children: bool = False) -> Figures:
    """The best wall-clock and the best CPU time of `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        cpu, wall = _cpu_seconds(children), time.perf_counter()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu_seconds(children) - cpu)
    return Figures(min(walls), min(cpus))


def _measure(shape: Shape, repeat: int) -> tuple[Figures, Figures, Figures]:
    with tempfile.TemporaryDirectory(prefix="bench-locate-") as folder:
        root = Path(folder)
        build_tree(root, shape)
        # One warm-up each, so both read from the page cache.
        matched = _grep(root)
        scan: Scan = locate(root)
        grep = _best(lambda: _grep(root), repeat, children=True)
        located = _best(lambda: locate(root), repeat)
        floor = _best(lambda: _read_and_prefilter(root), repeat)
    roles: dict[str, int] = {}
    for candidate in scan.candidates:
        roles[candidate.role] = roles.get(candidate.role, 0) + 1
    print(
        f"{shape.name}: {scan.files_seen} files walked, {scan.files_parsed} parsed,"
        f" {len(scan.candidates)} candidates {roles}, {len(scan.excluded)} excluded;"
        f" grep matched {matched} files"
    )
    return located, grep, floor


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="best of N (default 5)")
    args = parser.parse_args(argv)
    in_c = prefilter.read_marked is not prefilter.read_marked_python
    print(f"prefilter: the {'C' if in_c else 'Python'} reader")
    figures = [(shape, *_measure(shape, args.repeat)) for shape in SHAPES]
    print(
        f"\n{'tree':<14}{'files':>7}{'clock':>6}{'locate s':>10}{'grep s':>9}"
        f"{'ratio':>8}{'floor':>8}"
    )
    for shape, located, grep, floor in figures:
        for clock in ("wall", "cpu"):
            mine, theirs = getattr(located, clock), getattr(grep, clock)
            print(
                f"{shape.name:<14}{shape.files:>7}{clock:>6}{mine:>10.3f}"
                f"{theirs:>9.3f}{mine / theirs:>7.2f}x"
                f"{getattr(floor, clock) / theirs:>7.2f}x"
            )
    print("floor: a bare loop reading each file and testing it for the markers")
    # A busy machine slows one clock or the other: the better of the two counts.
    worst = max(
        min(located.wall / grep.wall, located.cpu / grep.cpu)
        for _, located, grep, _ in figures
    )
    verdict = "met" if worst <= GOAL_RATIO else "NOT met"
    print(f"goal: within {GOAL_RATIO}x of grep on every tree -> {verdict}")


if __name__ == "__main__":
    main()
