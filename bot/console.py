"""What every command shares: the program name, exit codes, one-line usage errors."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import NoReturn

PROG = "wandb-inject"
EXIT_OK = 0
EXIT_WOULD_CHANGE = 1
EXIT_ERROR = 2
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors fit on one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{PROG}: error: {message} (see --help)\n")


def print_error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)
