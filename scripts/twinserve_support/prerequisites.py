"""What a test needs installed or built first; a missing one fails the test, never skips it.

`make test` builds every prerequisite before pytest, so a missing one means the setup broke, and
that is a failure to see, not a test to leave out.
"""

from __future__ import annotations

from pathlib import Path


def require(path: Path, made_by: str) -> Path:
    """``path``, or the test fails saying which make target creates it."""
    import pytest

    if not path.exists():
        pytest.fail(f"{path} is missing: `{made_by}` creates it (make test runs it first)")
    return path
