"""The cost model's answers: line items, a platform's monthly bill, cold starts, break-even, curves, and the
comparison document (``CostComparison.to_dict()``, format ``twinbench.cost``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from twinbench.cost.model.configs import (
    AlbAssumptions,
    ContainerConfig,
    LambdaConfig,
)
from twinbench.results import formats
from twinbench.results.jsonable import jsonable


@dataclass(frozen=True)
class LineItem:
    """One row of a bill: quantity x unit price = monthly_usd."""

    name: str
    quantity: float
    unit: str
    unit_usd: float
    monthly_usd: float


@dataclass(frozen=True)
class PlatformCost:
    """A platform's monthly bill: the total, its line items, sizing facts and caveats."""

    platform: Literal["lambda", "eks", "fargate"]
    label: str
    monthly_usd: float
    items: tuple[LineItem, ...]
    sizing: Mapping[str, float | int | str]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColdStartEstimate:
    """Expected cold starts per month under the keep-alive model (see ``expected_cold_starts``)."""

    cold_starts_per_month: float
    cold_start_fraction: float
    keep_alive_s: float
    mean_concurrency: float
    peak_concurrency: float


@dataclass(frozen=True)
class BreakEven:
    """Where Lambda stops being cheaper than ``against``, in mean req/s of the same shape.

    ``rps`` is the lowest such rate (0.0 if Lambda is never cheaper, None if it is cheaper
    all the way to ``searched_up_to_rps``). ``crossings_rps`` lists every rate where the
    cheaper side changes: the container side is a step function (whole nodes and pods), so
    just above break-even a new node can briefly make Lambda cheaper again.
    """

    against: Literal["eks", "fargate"]
    rps: float | None
    requests_per_month: float | None
    crossings_rps: tuple[float, ...]
    searched_up_to_rps: float


@dataclass(frozen=True)
class CostCurve:
    """Monthly cost of each platform over a sweep of mean request rates, ready to plot."""

    mean_rps: np.ndarray
    requests_per_month: np.ndarray
    lambda_monthly_usd: np.ndarray
    eks_monthly_usd: np.ndarray
    fargate_monthly_usd: np.ndarray
    break_even_eks: BreakEven
    break_even_fargate: BreakEven
    profile_name: str


@dataclass(frozen=True)
class CostComparison:
    """The whole answer for one scenario; ``to_dict()`` is what results.json stores."""

    region: str
    hours_per_month: float
    prices_pinned_on: str
    prices_path: str
    traffic: Mapping[str, Any]
    lambda_config: LambdaConfig
    container_config: ContainerConfig
    alb: AlbAssumptions
    fargate_on_eks: bool
    lambda_cost: PlatformCost
    eks_cost: PlatformCost
    fargate_cost: PlatformCost
    cold_starts: ColdStartEstimate
    break_even_eks: BreakEven
    break_even_fargate: BreakEven
    cheapest: str
    assumptions: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {**formats.COST.header(), **jsonable(asdict(self))}
