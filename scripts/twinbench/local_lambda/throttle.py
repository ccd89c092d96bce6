"""API Gateway's route throttling as the local Lambda applies it: a token bucket per route.

The caps themselves (reserved concurrency, the throttle's rate and burst as serverless.yml deploys
them) and the platform's rules for them are :mod:`twinserve_support.lambda_caps`. A request that
finds its route's bucket empty is answered 429 (``{"message":"Too Many Requests"}``) by API Gateway,
before Lambda is invoked (:class:`RouteThrottle`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from twinserve_support.lambda_caps import Caps

__all__ = ["RouteThrottle"]


class RouteThrottle:
    """API Gateway's route throttling: one token bucket per route, full at the start.

    A route's bucket holds ``burst`` tokens and gains ``rate_rps`` per second (never above
    ``burst``); each admitted request takes one. Times are ``clock()`` seconds (monotonic).
    """

    def __init__(self, rate_rps: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        Caps(None, rate_rps, burst)  # validates
        self.rate_rps = float(rate_rps)
        self.burst = int(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # route -> (tokens, at)
        self.rejected = 0

    def admit(self, route: str) -> bool:
        """Take a token from ``route``'s bucket; False (a 429) when it is empty."""
        now = self._clock()
        tokens, at = self._buckets.get(route, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate_rps)
        if tokens < 1.0:
            self._buckets[route] = (tokens, now)
            self.rejected += 1
            return False
        self._buckets[route] = (tokens - 1.0, now)
        return True
