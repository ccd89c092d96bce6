"""What one memory size costs: per invocation, per million and per month, from the one price table.

* **per invocation** (what the picks compare, as Power Tuning does): the per-request charge plus
  the average warm Billed Duration x memory in GB-seconds (Lambda's GB = 1024 MB) at the
  architecture's GB-s price — ``twinbench.cost.prices`` (``prices.json``), never a literal here;
* **per month** at a constant ``rps``: :func:`twinbench.cost.model.lambda_monthly_cost`, the same
  model ``twinbench cost`` uses — requests + compute + the INIT of the cold starts its keep-alive
  model expects (INIT is billed since 2025-08-01), with no front door (a Function URL costs
  nothing extra; add API Gateway with ``twinbench cost`` if you use it).

Free tier, volume tiers and Savings Plans are ignored (the price table's own rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from twinbench.aws.report_line import billed_gb_s
from twinbench.cost.model import LambdaConfig, lambda_monthly_cost
from twinbench.cost.prices import PriceTable, load_prices
from twinbench.cost.traffic import SECONDS_PER_MONTH, constant

__all__ = ["FREE_TIER_NOTE", "SizeCost", "price_size"]

FREE_TIER_NOTE = ("free tier, volume tiers and Savings Plans ignored; no API Gateway (Function URL, $0); "
                  "per month includes the INIT of the cold starts the cost model's keep-alive model expects")
REQUEST_PRICE_KEY = "lambda_usd_per_million_requests"


@dataclass(frozen=True, slots=True)
class SizeCost:
    """Costs of one size, USD. ``monthly_usd`` at ``rps`` req/s all month (730 h)."""

    memory_mb: int
    architecture: str
    billed_duration_ms: float
    per_invocation_usd: float
    per_million_usd: float
    monthly_usd: float
    monthly_init_usd: float
    cold_starts_per_month: float
    rps: float
    gb_s_price_usd: float
    request_price_usd_per_million: float

    def to_dict(self) -> dict[str, object]:
        return {
            "billed_duration_ms": self.billed_duration_ms, "per_invocation_usd": self.per_invocation_usd,
            "per_million_usd": self.per_million_usd, "monthly_usd": self.monthly_usd,
            "monthly_init_usd": self.monthly_init_usd, "cold_starts_per_month": self.cold_starts_per_month,
        }


def price_size(memory_mb: int, billed_duration_ms: float, *, architecture: str, rps: float,
               init_duration_ms: float = 0.0, keep_alive_s: float = 300.0,
               prices: PriceTable | None = None) -> SizeCost:
    """Cost of ``memory_mb`` at an average warm billed duration of ``billed_duration_ms``.

    Raises :class:`twinbench.cost.model.ConfigError` for a size or duration Lambda does not allow
    and :class:`twinbench.cost.prices.PriceTableError` for an architecture without a price.
    """
    prices = prices or load_prices()
    gb_s_price = prices.usd(f"lambda_{architecture}_usd_per_gb_s")
    request_price = prices.usd(REQUEST_PRICE_KEY)
    per_invocation = request_price / 1e6 + billed_gb_s(billed_duration_ms, memory_mb) * gb_s_price
    config = LambdaConfig(billed_duration_ms=billed_duration_ms, memory_mb=memory_mb,
                          architecture=architecture,  # type: ignore[arg-type]
                          front_door="function-url", init_duration_ms=init_duration_ms, keep_alive_s=keep_alive_s)
    month = lambda_monthly_cost(constant(rps), config, prices)
    init_usd = sum(i.monthly_usd for i in month.items if i.name.startswith("init"))
    return SizeCost(memory_mb=memory_mb, architecture=architecture, billed_duration_ms=billed_duration_ms,
                    per_invocation_usd=per_invocation, per_million_usd=per_invocation * 1e6,
                    monthly_usd=month.monthly_usd, monthly_init_usd=init_usd,
                    cold_starts_per_month=float(month.sizing["cold_starts_per_month"]), rps=rps,
                    gb_s_price_usd=gb_s_price, request_price_usd_per_million=request_price)


def requests_per_month(rps: float) -> float:
    """Requests in AWS's 730-hour billing month at a constant ``rps``."""
    return rps * SECONDS_PER_MONTH
