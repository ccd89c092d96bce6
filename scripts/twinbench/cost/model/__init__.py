"""Monthly cost of serving the model on Lambda, on EKS nodes and on Fargate, and the break-even between them.

Pure arithmetic over the pinned price table (``prices.json``) and the figures ``make bench`` measures
(billed duration, throughput per pod, cold starts), so a report can be re-derived by hand. A month is
730 hours; rates are req/s; on-demand list prices only. configs (inputs) -> lambda_cost, sizing,
containers -> comparison (break-even, curves, the ``twinbench.cost`` document in outputs). The
cold-start (keep-alive) model is described in :func:`~twinbench.cost.model.lambda_cost.expected_cold_starts`.
"""

from twinbench.cost.model.comparison import (
    ASSUMPTIONS,
    MAX_STEP_POINTS,
    alb_assumption_text,
    break_even_rps,
    compare,
    cost_curve,
)
from twinbench.cost.model.configs import (
    ARCHITECTURES,
    FRONT_DOOR_LABELS,
    FRONT_DOOR_PRICE_KEYS,
    FRONT_DOORS,
    GIB,
    LAMBDA_DEFAULT_CONCURRENCY_LIMIT,
    LAMBDA_MAX_DURATION_MS,
    MAX_HEADROOM,
    MAX_SEARCH_RPS,
    MIN_POD_RPS,
    MIN_SEARCH_RPS,
    SCHEMA_VERSION,
    T3_UNLIMITED_USD_PER_VCPU_HOUR,
    AlbAssumptions,
    Architecture,
    ConfigError,
    ContainerConfig,
    FrontDoor,
    LambdaConfig,
    PodDoesNotFitError,
)
from twinbench.cost.model.containers import eks_monthly_cost, fargate_monthly_cost
from twinbench.cost.model.lambda_cost import (
    expected_cold_starts,
    lambda_monthly_cost,
    mean_billed_duration_ms,
)
from twinbench.cost.model.outputs import (
    BreakEven,
    ColdStartEstimate,
    CostComparison,
    CostCurve,
    LineItem,
    PlatformCost,
)
from twinbench.cost.model.sizing import fargate_pod_size, node_allocatable, nodes_needed, pods_needed
from twinbench.cost.prices import PriceTable, PriceTableError, load_prices
from twinbench.cost.traffic import HOURS_PER_MONTH, CostModelError, TraceFormatError, TrafficError

__all__ = [
    "ARCHITECTURES", "ASSUMPTIONS", "FRONT_DOORS", "FRONT_DOOR_LABELS", "FRONT_DOOR_PRICE_KEYS", "GIB",
    "HOURS_PER_MONTH", "LAMBDA_DEFAULT_CONCURRENCY_LIMIT", "LAMBDA_MAX_DURATION_MS", "MAX_HEADROOM",
    "MAX_SEARCH_RPS", "MAX_STEP_POINTS", "MIN_POD_RPS", "MIN_SEARCH_RPS", "SCHEMA_VERSION",
    "T3_UNLIMITED_USD_PER_VCPU_HOUR", "AlbAssumptions", "Architecture", "BreakEven", "ColdStartEstimate",
    "ConfigError", "ContainerConfig", "CostComparison", "CostCurve", "CostModelError", "FrontDoor", "LambdaConfig",
    "LineItem", "PlatformCost", "PodDoesNotFitError", "PriceTable", "PriceTableError", "TraceFormatError",
    "TrafficError", "alb_assumption_text", "break_even_rps", "compare", "cost_curve", "eks_monthly_cost",
    "expected_cold_starts", "fargate_monthly_cost", "fargate_pod_size", "lambda_monthly_cost", "load_prices",
    "mean_billed_duration_ms", "node_allocatable", "nodes_needed", "pods_needed",
]
