"""The caps that keep one flood from taking the account, as serverless.yml deploys them, and the platform's rules.

Their defaults are written once, in serverless.yml's ``params`` (``reservedConcurrency``,
``throttleRateLimit``, ``throttleBurstLimit``). :func:`deployed_caps` reads them as the Framework
resolves them for a stage and ``--param`` overrides, so the deploy script's checks, the local Lambda,
the simulator and the cost model see the caps a deploy would set.

* Reserved concurrency: each function holds at most that many execution environments; a request
  that finds none idle and the cap reached is answered 429 (``TooManyRequestsException``) and not
  billed. AWS keeps :data:`UNRESERVED_MINIMUM` of the account's concurrency unreserved, so the
  reservations of all functions together may not exceed the account limit minus 100
  (:func:`check_reserved_concurrency`; AWS refuses the deploy otherwise).
* HTTP API route throttling (the stage's ``DefaultRouteSettings``): a rate and a burst, both or neither.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from twinserve_support.paths import SERVERLESS_YML
from twinserve_support.serverless_config import (
    DEFAULT_FUNCTION,
    DEFAULT_STAGE,
    ServerlessConfigError,
    _load,
    _resolve,
)

__all__ = ["ACCOUNT_CONCURRENCY_DEFAULT", "UNRESERVED_MINIMUM", "Caps", "CapsError", "check_reserved_concurrency",
           "deployed_caps"]

ACCOUNT_CONCURRENCY_DEFAULT = 1000
"""Lambda's default concurrency quota per account and region (AWS docs, "Lambda quotas")."""
UNRESERVED_MINIMUM = 100
"""Concurrency AWS always keeps unreserved for the account's other functions ("Configuring reserved
concurrency": reservations may not leave less than 100 unreserved)."""


class CapsError(ValueError):
    """A cap outside what the platform allows; ``str()`` says which and why."""


def check_reserved_concurrency(reserved: int | None, functions: int = 1,
                               account_concurrency: int = ACCOUNT_CONCURRENCY_DEFAULT) -> None:
    """Raise :class:`CapsError` unless ``functions`` reservations of ``reserved`` fit the account.

    ``None`` (no reservation) passes; 0 is refused (it turns the function off: every request 429).
    """
    if reserved is None:
        return
    if isinstance(reserved, bool) or not isinstance(reserved, int) or reserved < 1:
        raise CapsError(f"reserved concurrency must be a whole number >= 1, got {reserved!r} (0 turns the function off)")
    available = account_concurrency - UNRESERVED_MINIMUM
    if functions * reserved > available:
        raise CapsError(f"reserved concurrency {reserved} x {functions} function(s) = {functions * reserved} exceeds the "
                        f"account limit {account_concurrency} minus the {UNRESERVED_MINIMUM} AWS keeps unreserved "
                        f"({available})")


@dataclass(frozen=True, slots=True)
class Caps:
    """One function's caps. ``None`` = not set (the library default of the local Lambda's settings)."""

    reserved_concurrency: int | None
    """Execution environments the function may hold at once."""
    throttle_rate_rps: float | None
    """Route throttling's steady rate, requests/s (tokens added per second)."""
    throttle_burst: int | None
    """Route throttling's burst: the token bucket's size, requests."""

    def __post_init__(self) -> None:
        check_reserved_concurrency(self.reserved_concurrency, account_concurrency=math.inf)  # type: ignore[arg-type]
        if (self.throttle_rate_rps is None) != (self.throttle_burst is None):
            raise CapsError("route throttling needs both a rate and a burst, or neither")
        if self.throttle_rate_rps is not None and not (math.isfinite(self.throttle_rate_rps) and self.throttle_rate_rps > 0):
            raise CapsError(f"throttle rate must be finite and > 0 req/s, got {self.throttle_rate_rps}")
        if self.throttle_burst is not None and (isinstance(self.throttle_burst, bool) or self.throttle_burst < 1):
            raise CapsError(f"throttle burst must be >= 1 request, got {self.throttle_burst}")


def _number(value: Any, key: str, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ServerlessConfigError(f"{key}: {value!r} is not a number") from None
    if kind is int and number != float(value):
        raise ServerlessConfigError(f"{key}: {value!r} is not a whole number")
    return number


def deployed_caps(stage: str = DEFAULT_STAGE, overrides: Mapping[str, str] | None = None,
                  function: str = DEFAULT_FUNCTION, path: Path = SERVERLESS_YML) -> Caps:
    """The caps serverless.yml deploys for ``function`` at ``stage`` with ``--param`` ``overrides``.

    Raises ServerlessConfigError (a ValueError) when serverless.yml cannot be resolved, and
    :class:`CapsError` when a resolved cap is out of range.
    """
    doc = _load(path)
    raw_params = doc.get("params") or {}
    # The same precedence as resolve_function: params.default < params.<stage> < --param.
    params: dict[str, Any] = {**(raw_params.get("default") or {}), **(raw_params.get(stage) or {})}
    params.update({k: yaml.safe_load(v) if isinstance(v, str) and v else v for k, v in (overrides or {}).items()})
    spec = (doc.get("functions") or {}).get(function)
    if spec is None:
        raise ServerlessConfigError(f"no function {function!r} in {path}")
    reserved = _resolve(spec.get("reservedConcurrency"), "reservedConcurrency", params)
    stage_ext = ((doc.get("resources") or {}).get("extensions") or {}).get("HttpApiStage") or {}
    route = (stage_ext.get("Properties") or {}).get("DefaultRouteSettings") or {}
    rate = _resolve(route.get("ThrottlingRateLimit"), "ThrottlingRateLimit", params)
    burst = _resolve(route.get("ThrottlingBurstLimit"), "ThrottlingBurstLimit", params)
    return Caps(
        reserved_concurrency=None if reserved is None else _number(reserved, "reservedConcurrency", int),
        throttle_rate_rps=None if rate is None else _number(rate, "ThrottlingRateLimit", float),
        throttle_burst=None if burst is None else _number(burst, "ThrottlingBurstLimit", int),
    )
