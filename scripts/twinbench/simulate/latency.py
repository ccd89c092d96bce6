"""Latency percentiles over tens of millions of requests in bounded memory.

Overall percentiles come from a log-bucketed histogram with 0.1 % relative bucket width
over 1 µs .. 10 min: the same resolution as the HdrHistogram (3 significant digits, 1 µs ..
10 min) that ``measure/stats.py`` uses for measured samples, so a simulated p99 and a
measured one are read the same way; a percentile is the geometric middle of the bucket that
holds the ceil(q x n)-th value (error <= 0.05 %). Per-minute percentiles are exact (numpy's
default linear interpolation) because a minute's latencies are in memory anyway.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LatencyRecorder", "QUANTILES"]

LOW_MS = 0.001
HIGH_MS = 600_000.0
REL = 0.001
N_BUCKETS = int(math.ceil(math.log(HIGH_MS / LOW_MS) / math.log1p(REL))) + 1
QUANTILES = (0.5, 0.99, 0.999)


class LatencyRecorder:
    """Collects one platform's latencies chunk by chunk: overall histogram + per-minute percentiles."""

    def __init__(self, minutes: int) -> None:
        self.hist = np.zeros(N_BUCKETS, dtype=np.int64)
        self.per_minute = np.full((minutes, len(QUANTILES)), np.nan)
        self.served_pm = np.zeros(minutes, dtype=np.int64)
        self.n = 0
        self.sum_ms = 0.0
        self.max_ms = 0.0

    def add(self, latency_ms: np.ndarray, offsets: np.ndarray, first_minute: int) -> None:
        """Record a chunk; ``latency_ms`` < 0 marks a request not served (throttled/rejected).

        ``offsets`` (length minutes + 1) splits the chunk into its minutes.
        """
        served = latency_ms >= 0
        ok = latency_ms[served]
        if ok.size:
            idx = np.log(np.clip(ok, LOW_MS, HIGH_MS) / LOW_MS) / math.log1p(REL)
            self.hist += np.bincount(idx.astype(np.int64), minlength=N_BUCKETS)[:N_BUCKETS]
            self.n += int(ok.size)
            self.sum_ms += float(ok.sum())
            self.max_ms = max(self.max_ms, float(ok.max()))
        for m in range(offsets.size - 1):
            seg = latency_ms[offsets[m]:offsets[m + 1]]
            if seg.size == 0:
                continue
            seg = seg[seg >= 0]
            self.served_pm[first_minute + m] = seg.size
            if seg.size:
                self.per_minute[first_minute + m] = np.quantile(seg, QUANTILES)

    def percentile(self, q: float) -> float | None:
        """The q-quantile (0 < q < 1) in ms, or None when nothing was served."""
        if self.n == 0:
            return None
        rank = max(1, math.ceil(q * self.n))
        bucket = int(np.searchsorted(np.cumsum(self.hist), rank))
        return LOW_MS * (1.0 + REL) ** (bucket + 0.5)

    def summary(self) -> dict[str, float | None]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 3)
        return {"p50": r(self.percentile(0.5)), "p99": r(self.percentile(0.99)),
                "p999": r(self.percentile(0.999)), "mean": r(self.sum_ms / self.n) if self.n else None,
                "max": r(self.max_ms) if self.n else None}
