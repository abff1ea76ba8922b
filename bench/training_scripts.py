"""Deterministic large PyTorch training scripts for the injector benchmark."""

from __future__ import annotations

import random
from string import Template

_HEADER = '''\
"""Train a residual MLP classifier with many project-local helpers."""
import argparse
import dataclasses
import functools
import logging
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

logger = logging.getLogger(__name__)


class Classifier(nn.Module):
    def __init__(self, features, hidden, classes, dropout=0.1):
        super().__init__()
        self.embed = nn.Linear(features, hidden)
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden))
            for _ in range(3)
        ])
        self.head = nn.Linear(hidden, classes)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        x = self.embed(x)
        for block in self.blocks:
            x = x + self.drop(F.gelu(block(x)))
        return self.head(x)
'''

_CORE = """\
def parse_args():
    parser = argparse.ArgumentParser(description="residual MLP on synthetic data")
    parser.add_argument("--lr", type=float, default=3e-4, help="learning rate")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--log-interval", type=int, default=20,
                        help="batches between progress lines")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def evaluate(model, loader, device):
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            logits = model(inputs)
            total_loss += F.cross_entropy(logits, targets, reduction="sum").item()
            correct += (logits.argmax(dim=1) == targets).sum().item()
    count = len(loader.dataset)
    return total_loss / count, correct / count


def train_epoch(args, model, loader, optimizer, device, epoch):
    model.train()
    for batch_idx, (inputs, targets) in enumerate(loader):
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            done, total = batch_idx * len(inputs), len(loader.dataset)
            print(f"epoch {epoch} [{done}/{total}] loss {loss.item():.4f}")


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    features = torch.randn(4096, 32)
    labels = (features.sum(dim=1) > 0).long()
    dataset = TensorDataset(features, labels)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)
    model = Classifier(32, args.hidden, 2).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        train_epoch(args, model, loader, optimizer, device, epoch)
        val_loss, accuracy = evaluate(model, loader, device)
        print(f"epoch {epoch}: val loss {val_loss:.4f}, accuracy {accuracy:.2%}")
    torch.save(model.state_dict(), "classifier.pt")


if __name__ == "__main__":
    main()
"""

# Padding blocks: the kinds of helpers that pile up in long research scripts.
# None of them trains anything, so the file keeps exactly one training loop.
_BLOCKS = [
    Template('''\
def normalize_batch_$n(values, scale=$scale):
    """Scale a batch of values into [0, scale]."""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    scaled = [(v - lo) / span * scale for v in values if v is not None]
    quartiles = {f"q{k}": scaled[k * len(scaled) // 4] for k in range(4) if scaled}
    return scaled, quartiles
'''),
    Template("""\
@functools.lru_cache(maxsize=$size)
def warmup_factor_$n(step: int, warmup: int = $warmup) -> float:
    if step >= warmup:
        return 1.0
    return (step + 1) / warmup
"""),
    Template("""\
def make_schedule_$n(base_lr, decay=0.$decay):
    def schedule(epoch):
        factor = decay ** (epoch // $period)
        return max(base_lr * factor, 1e-6)

    schedule.__name__ = f"schedule_${n}_{base_lr:g}"
    return schedule
"""),
    Template("""\
def load_checkpoint_$n(path, model, strict=True):
    try:
        with open(path, "rb") as handle:
            state = torch.load(handle, map_location="cpu")
    except FileNotFoundError:
        logger.warning("no checkpoint at %s", path)
        return None
    except (RuntimeError, ValueError) as err:
        raise RuntimeError(f"unreadable checkpoint {path}: {err}") from err
    else:
        model.load_state_dict(state["model"], strict=strict)
    finally:
        logger.debug("looked for %s", path)
    return state.get("epoch", $size)
"""),
    Template("""\
@dataclasses.dataclass
class AugmentConfig$n:
    crop: int = $size
    flip: bool = $flag
    jitter: float = 0.$decay
    extra: dict = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        parts = [f"{key}={value!r}" for key, value in dataclasses.asdict(self).items()]
        return ", ".join(parts)

    @property
    def active(self):
        return self.flip or self.jitter > 0
"""),
    Template("""\
class ResidualBlock$n(nn.Module):
    def __init__(self, channels=$size, dropout=0.$decay):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.proj = nn.Sequential(
            nn.Linear(channels, channels * 2),
            nn.GELU(),
            nn.Linear(channels * 2, channels),
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return x + self.drop(self.proj(self.norm(x)))
"""),
    Template("""\
def iter_chunks_$n(items, size=$period):
    buffer = []
    iterator = iter(items)
    while (item := next(iterator, None)) is not None:
        buffer.append(item)
        if len(buffer) == size:
            yield tuple(buffer)
            buffer.clear()
    if buffer:
        yield tuple(buffer)
"""),
    Template("""\
def activation_$n(name):
    match name.lower():
        case "relu":
            return nn.ReLU()
        case "gelu" | "silu" as other:
            return nn.GELU() if other == "gelu" else nn.SiLU()
        case _:
            raise ValueError(f"unknown activation {name!r} (block $n)")
"""),
    Template("""\
class RunningMeter$n:
    __slots__ = ("total", "count")

    def __init__(self):
        self.total, self.count = 0.0, 0

    def update(self, value, n=1):
        assert n > 0, "count must be positive"
        self.total += float(value) * n
        self.count += n

    @classmethod
    def merged(cls, meters):
        out = cls()
        for meter in sorted(meters, key=lambda m: m.count):
            out.update(meter.total / max(meter.count, 1), meter.count)
        return out
"""),
    Template('''\
def cosine_weights_$n(length, floor=0.0$decay):
    """Weights that fall from 1 to `floor` along half a cosine."""
    if length <= 1:
        return [1.0] * length
    steps = (i / (length - 1) for i in range(length))
    return [floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)) for t in steps]
'''),
]


def _render_block(index: int, rng: random.Random) -> str:
    template = rng.choice(_BLOCKS)
    return template.substitute(
        n=index,
        size=rng.randint(8, 512),
        scale=rng.choice(["1.0", "255.0", "0.5"]),
        warmup=rng.randint(100, 5000),
        decay=rng.randint(1, 99),
        period=rng.randint(2, 30),
        flag=rng.choice(["True", "False"]),
    )


def build_training_script(target_lines: int, seed: int = 0) -> str:
    """A single training script of roughly `target_lines` lines (never fewer)."""
    rng = random.Random(seed)
    fixed_lines = _HEADER.count("\n") + _CORE.count("\n")
    blocks: list[str] = []
    padded_lines = 0
    while fixed_lines + padded_lines < target_lines:
        block = _render_block(len(blocks), rng)
        blocks.append(block)
        padded_lines += block.count("\n") + 2
    return "\n\n".join([_HEADER, *blocks, _CORE])
