"""argparse types shared by the commands: a bad value is one line and exit 2 (argparse's own usage error).

Every numeric option is checked here, not deep in the code, so nan, inf, 0 or a word never reach
a computation as a traceback or a NaN in a result.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["non_negative_float", "non_negative_int", "port_number", "positive_float", "positive_int"]


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (a count that may be none: warm-ups, slow clients)."""
    return _whole_number(text, 0)


def port_number(text: str) -> int:
    """A TCP port, 0..65535 (0 = any free port)."""
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port within 0..65535, got {value}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (a pause or a ramp that may be none)."""
    value = _number(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value
