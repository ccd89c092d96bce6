"""How much each run measures (``PROFILE=smoke|quick|full``) and the memory sizes it tries.

The default sizes are Power Tuning's defaults with 1,536 MB swapped for 1,769 MB, the size where
AWS gives exactly one vCPU. ``warm`` is at least 5, Power Tuning's minimum ``num``: its trimmed
mean drops 20 % at each end, which needs a few samples to mean anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from twinbench.tune.errors import TuneInputError

__all__ = ["DEFAULT_MEMORY_MB", "MAX_SIZES", "PROFILES", "TuneProfile", "parse_memory_list"]

DEFAULT_MEMORY_MB: tuple[int, ...] = (128, 256, 512, 1024, 1769, 3008)
LAMBDA_MIN_MB, LAMBDA_MAX_MB = 128, 10240
MAX_SIZES = 32
MIN_WARM = 5


@dataclass(frozen=True, slots=True)
class TuneProfile:
    """Per size: ``cold`` forced cold starts, ``warmup`` discarded warm invocations, ``warm`` measured ones."""

    name: str
    memory_mb: tuple[int, ...]
    cold: int
    warmup: int
    warm: int

    def __post_init__(self) -> None:
        if self.cold < 1 or self.warmup < 0 or self.warm < MIN_WARM:
            raise TuneInputError(f"profile {self.name}: need cold >= 1, warmup >= 0, warm >= {MIN_WARM}")

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "memory_mb": list(self.memory_mb), "cold": self.cold,
                "warmup": self.warmup, "warm": self.warm}


PROFILES: dict[str, TuneProfile] = {
    # In `make test`: three sizes from a seventh of a vCPU to one, well under a minute.
    "smoke": TuneProfile("smoke", (256, 1024, 1769), cold=2, warmup=3, warm=20),
    "quick": TuneProfile("quick", DEFAULT_MEMORY_MB, cold=5, warmup=10, warm=100),
    "full": TuneProfile("full", DEFAULT_MEMORY_MB, cold=20, warmup=50, warm=500),
}


def parse_memory_list(text: str) -> tuple[int, ...]:
    """``"128,256,1769"`` -> ``(128, 256, 1769)``, ascending.

    Raises :class:`TuneInputError` for a value that is not a whole number of MB within Lambda's
    128..10240, a duplicate, an empty list or more than ``MAX_SIZES`` sizes.
    """
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise TuneInputError(f"memory list {text!r}: give comma-separated sizes in MB, e.g. 128,512,1769")
    sizes: list[int] = []
    for part in parts:
        try:
            value = int(part)
        except ValueError:
            raise TuneInputError(f"memory size {part!r} is not a whole number of MB") from None
        if not LAMBDA_MIN_MB <= value <= LAMBDA_MAX_MB:
            raise TuneInputError(f"memory size {value} MB is outside Lambda's {LAMBDA_MIN_MB}..{LAMBDA_MAX_MB} MB")
        if value in sizes:
            raise TuneInputError(f"memory size {value} MB is listed twice")
        sizes.append(value)
    if len(sizes) > MAX_SIZES:
        raise TuneInputError(f"{len(sizes)} memory sizes; at most {MAX_SIZES} per run")
    return tuple(sorted(sizes))
