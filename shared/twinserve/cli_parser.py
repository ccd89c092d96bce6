"""An ArgumentParser whose usage errors are one line: ``twinserve import: error: ... (see --help)``.

argparse prints the whole usage block before the error; the rule for every CLI here is one line
and exit 2, so the usage stays in --help. Subparsers inherit the class (argparse's default).
The product's CLI, the bench's and the standalone scripts all use it.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ["OneLineParser"]


class OneLineParser(argparse.ArgumentParser):
    """argparse.ArgumentParser with a one-line usage error (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
