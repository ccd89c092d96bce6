"""The last lines of a child process's log, for error messages that say why it failed."""

from __future__ import annotations

import contextlib
from pathlib import Path


def log_tail(path: str | Path | None, title: str, lines: int = 15) -> str:
    """``"\\n--- <title> (last lines) ---\\n..."`` or "" when there is no readable log."""
    if not path:
        return ""
    with contextlib.suppress(OSError):
        text = Path(path).read_text(errors="replace").splitlines()[-lines:]
        return f"\n--- {title} (last lines) ---\n" + "\n".join(text)
    return ""
