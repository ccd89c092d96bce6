"""The three picks of AWS Lambda Power Tuning — *cost*, *speed*, *balanced* — and its trimmed mean.

Pure functions, no I/O, so the rules can be checked against Power Tuning's own code line by line
(``computeAverageDuration``, ``findCheapest``, ``findFastest``, ``findBalanced``). One difference:
the ``cost`` passed here includes the per-request charge, which Power Tuning leaves out.

Details (each rule, the source commit, the difference): docs/benchmark.md, 'Power Tuning's picks (tune/strategies.py)'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_BALANCED_WEIGHT",
    "DEFAULT_DISCARD_TOP_BOTTOM",
    "POWER_TUNING_SOURCE",
    "STRATEGIES",
    "Candidate",
    "Pick",
    "balanced_score",
    "pick",
    "pick_all",
    "trimmed_mean",
]

POWER_TUNING_SOURCE = ("https://github.com/alexcasalboni/aws-lambda-power-tuning/blob/"
                       "0198f2c1521d3f8a8835300adf1db007dca98700/lambda/analyzer.js")
DEFAULT_BALANCED_WEIGHT = 0.5
DEFAULT_DISCARD_TOP_BOTTOM = 0.2
MAX_DISCARD_TOP_BOTTOM = 0.4
STRATEGIES = ("cost", "speed", "balanced")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One memory size as the picks see it: its duration (ms) and cost (USD, any consistent unit)."""

    memory_mb: int
    duration_ms: float
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Pick:
    """The size a strategy chose and the score it was chosen on (``None`` for cost / speed)."""

    strategy: str
    memory_mb: int
    duration_ms: float
    cost_usd: float
    score: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"strategy": self.strategy, "memory_mb": self.memory_mb, "duration_ms": self.duration_ms,
                "cost_usd": self.cost_usd, "score": self.score}


def trimmed_mean(values: Sequence[float], discard_top_bottom: float = DEFAULT_DISCARD_TOP_BOTTOM) -> float:
    """Power Tuning's average: drop ``int(n * discard_top_bottom)`` of the lowest and highest values.

    Raises ``ValueError`` for no values, a non-finite value or a fraction outside 0..0.4.
    """
    if not 0.0 <= discard_top_bottom <= MAX_DISCARD_TOP_BOTTOM:
        raise ValueError(f"discard_top_bottom must be within 0..{MAX_DISCARD_TOP_BOTTOM}, got {discard_top_bottom}")
    if not values:
        raise ValueError("trimmed mean of no values")
    if not all(math.isfinite(v) for v in values):
        raise ValueError("trimmed mean of a non-finite value")
    ordered = sorted(values)
    k = int(len(ordered) * discard_top_bottom)
    kept = ordered[k:len(ordered) - k] if k else ordered
    return math.fsum(kept) / len(kept)


def _clamp_weight(weight: float) -> float:
    if not math.isfinite(weight):
        raise ValueError(f"balanced weight must be a finite number, got {weight}")
    return min(max(weight, 0.0), 1.0)


def balanced_score(candidate: Candidate, max_cost: float, max_duration: float, weight: float) -> float:
    """``w * cost / max_cost + (1 - w) * duration / max_duration`` (lower is better)."""
    w = _clamp_weight(weight)
    cost_part = candidate.cost_usd / max_cost if max_cost > 0 else 0.0
    duration_part = candidate.duration_ms / max_duration if max_duration > 0 else 0.0
    return w * cost_part + (1.0 - w) * duration_part


def pick(candidates: Sequence[Candidate], strategy: str, weight: float = DEFAULT_BALANCED_WEIGHT) -> Pick:
    """The size ``strategy`` chooses among ``candidates``.

    Ties beyond Power Tuning's own tie-break (same cost *and* duration) go to the smaller memory,
    so the result never depends on the order sizes were measured in. Raises ``ValueError`` for an
    unknown strategy or no candidates.
    """
    if not candidates:
        raise ValueError("no memory size was measured: nothing to pick from")
    if strategy == "cost":
        best = min(candidates, key=lambda c: (c.cost_usd, c.duration_ms, c.memory_mb))
        return Pick("cost", best.memory_mb, best.duration_ms, best.cost_usd)
    if strategy == "speed":
        best = min(candidates, key=lambda c: (c.duration_ms, c.cost_usd, c.memory_mb))
        return Pick("speed", best.memory_mb, best.duration_ms, best.cost_usd)
    if strategy == "balanced":
        w = _clamp_weight(weight)
        max_cost = max(c.cost_usd for c in candidates)
        max_duration = max(c.duration_ms for c in candidates)
        scored = [(balanced_score(c, max_cost, max_duration, w), c.memory_mb, c) for c in candidates]
        score, _, best = min(scored, key=lambda t: (t[0], t[1]))
        return Pick("balanced", best.memory_mb, best.duration_ms, best.cost_usd, score=score)
    raise ValueError(f"unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")


def pick_all(candidates: Sequence[Candidate], weight: float = DEFAULT_BALANCED_WEIGHT) -> dict[str, Pick]:
    """All three picks, keyed by strategy."""
    return {s: pick(candidates, s, weight) for s in STRATEGIES}
