"""Real git repositories for the job and command tests, built with the git CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "train_mnist.py"
HOOKS = (
    "post-checkout",
    "pre-commit",
    "commit-msg",
    "post-commit",
    "reference-transaction",
)

ENTRY = b'''"""Start training from the command line."""
import argparse

from engine import fit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    fit(args.epochs, args.lr)


if __name__ == "__main__":
    main()
'''

ENGINE = b'''"""The training loop the entry point runs."""
import torch
from torch import nn


def fit(epochs, lr):
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        for step in range(10):
            loss = model(torch.randn(8, 4)).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
'''


class Repo:
    """A git repository in a temporary folder, committed to by a test identity."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hook_proof = root.parent / f"{root.name}-hook-ran"

    def git(self, *args: str) -> str:
        identity = ["-c", "user.name=Tester", "-c", "user.email=tester@example.test"]
        completed = subprocess.run(
            ["git", "-C", str(self.root), *identity, *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return completed.stdout.strip()

    def write(self, path: str, data: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def commit_all(self, message: str) -> str:
        # --no-verify: the test's own commits must not trip the hooks under test.
        self.git("add", "--all")
        self.git("commit", "--quiet", "--no-verify", "--message", message)
        return self.git("rev-parse", "HEAD")

    def install_hooks(self) -> None:
        """Hooks that would leave a file behind if git ever ran them."""
        hooks = self.root / ".git" / "hooks"
        for name in HOOKS:
            hook = hooks / name
            hook.write_text(f"#!/bin/sh\necho {name} >> '{self.hook_proof}'\n")
            hook.chmod(0o755)

    def refs(self) -> str:
        return self.git("for-each-ref", "--format=%(refname) %(objectname)")

    def worktrees(self) -> list[str]:
        return self.git("worktree", "list", "--porcelain").split("\n\n")

    def show(self, revision: str, path: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(self.root), "show", f"{revision}:{path}"],
            capture_output=True,
            check=True,
        ).stdout


MakeRepo = Callable[[dict[str, bytes]], Repo]
