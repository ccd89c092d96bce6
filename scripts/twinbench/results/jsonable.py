"""Plain JSON values from what the bench computes (numpy scalars and arrays, dataclasses, tuples):
one converter, so every document writes numbers the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

import numpy as np


def jsonable(value: Any, array_digits: int | None = None) -> Any:
    """``value`` as JSON-ready Python; numpy arrays rounded to ``array_digits`` decimals when given
    (raw per-request series, where more digits than the clock's resolution are noise)."""
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value), array_digits)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, array_digits) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        if array_digits is None:
            return value.tolist()
        return [round(float(v), array_digits) for v in value.ravel()]
    if isinstance(value, tuple | list):
        return [jsonable(v, array_digits) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
