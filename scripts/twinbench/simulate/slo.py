"""A service-level objective and whether a simulated platform met it.

An SLO here is: the ``percentile``-th latency of served requests at most ``latency_ms``, and the
requests not served (429 throttled, 503 rejected, timeouts) at most ``error_budget`` of all.
A platform that misses either is *not comparable on cost*: every table, summary and verdict
marks it as missing the SLO and shows its errors beside its cost (a cluster that drops 37 % of
a burst is cheap because it drops them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twinbench.simulate.errors import ParameterError
from twinbench.simulate.params import check_finite

__all__ = ["Slo", "SloCheck", "check_slo"]


@dataclass(frozen=True)
class Slo:
    """``latency_ms`` at ``percentile`` (0 < p < 100) and an ``error_budget`` fraction (0..1)."""

    latency_ms: float
    percentile: float = 99.0
    error_budget: float = 0.001

    def __post_init__(self) -> None:
        check_finite("SLO latency (ms)", self.latency_ms, strict=True)
        if not 0 < float(self.percentile) < 100:
            raise ParameterError(f"SLO percentile must be in (0, 100), got {self.percentile}")
        if not 0 <= float(self.error_budget) <= 1:
            raise ParameterError(f"error budget must be a fraction in [0, 1], got {self.error_budget}")

    @property
    def quantile(self) -> float:
        return float(self.percentile) / 100.0

    def describe(self) -> str:
        return f"p{self.percentile:g} <= {self.latency_ms:g} ms, errors <= {self.error_budget * 100:g} %"

    def to_dict(self) -> dict[str, float]:
        return {"latency_ms": float(self.latency_ms), "percentile": float(self.percentile),
                "error_budget": float(self.error_budget)}


@dataclass(frozen=True)
class SloCheck:
    meets: bool
    latency_at_percentile_ms: float | None
    errors: int
    error_fraction: float
    binding: tuple[str, ...]
    """Which constraints are missed: "latency", "errors" (empty when met)."""

    def to_dict(self) -> dict[str, Any]:
        return {"meets": self.meets, "latency_at_percentile_ms": self.latency_at_percentile_ms,
                "errors": self.errors, "error_fraction": self.error_fraction, "binding": list(self.binding)}


def platform_errors(res: dict[str, Any]) -> int:
    """Requests a platform did not serve: 429 (throttled) + 503 (rejected)."""
    return int(res.get("throttled", 0)) + int(res.get("rejected", 0))


def check_slo(res: dict[str, Any], slo: Slo) -> SloCheck:
    """Judge one platform's simulated result (it must carry ``slo_latency_ms`` at ``slo.quantile``)."""
    requests = int(res["requests"])
    if requests == 0:  # no request was late and none failed: an idle profile does not miss the objective
        return SloCheck(True, None, 0, 0.0, ())
    errors = platform_errors(res)
    frac = errors / requests if requests else 0.0
    lat = res.get("slo_latency_ms")
    binding = []
    if lat is None or lat > slo.latency_ms:
        binding.append("latency")
    if frac > slo.error_budget:
        binding.append("errors")
    return SloCheck(not binding, lat, errors, frac, tuple(binding))
