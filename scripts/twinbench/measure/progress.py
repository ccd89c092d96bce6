"""Progress on stderr: one live line on a terminal, one line per finished step otherwise (CI logs)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``phase(...)`` starts a named phase; ``update(...)`` refreshes it; ``done(...)`` closes it."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.quiet = quiet
        self.started = time.monotonic()
        self._label = ""
        self._width = 0

    def _elapsed(self) -> str:
        s = int(time.monotonic() - self.started)
        return f"{s // 60:02d}:{s % 60:02d}"

    def _write_live(self, text: str) -> None:
        line = f"[{self._elapsed()}] {text}"
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)

    def phase(self, label: str) -> None:
        self._label = label
        if self.quiet:
            return
        if self.live:
            self._write_live(label + " ...")
        else:
            self.stream.write(f"[{self._elapsed()}] {label} ...\n")
            self.stream.flush()

    def update(self, detail: str) -> None:
        if self.live and not self.quiet:
            self._write_live(f"{self._label}: {detail}")

    def done(self, summary: str = "") -> None:
        if self.quiet:
            return
        text = f"{self._label}: {summary}" if summary else f"{self._label}: done"
        if self.live:
            self._write_live(text)
            self.stream.write("\n")
            self._width = 0
        else:
            self.stream.write(f"[{self._elapsed()}] {text}\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A message that always gets its own line (warnings)."""
        if self.live and self._width:
            self.stream.write("\n")
            self._width = 0
        self.stream.write(f"[{self._elapsed()}] {text}\n")
        self.stream.flush()
