"""Costs only one platform pays, as bill rows: the one place that turns ``OneSidedCosts``
(simulate/params.py, the parameters' home) and prices.json into quantities and prices.

The simulator (``simulate.engine``) and the per-minute cost model (``cost.model``) both build their
line items from these rows, so a parameter or a price is never read or written twice.

* the cluster: the EKS control plane (standard or extended support), NAT gateway hours and GB
  processed, public IPv4 address-hours (an internet-facing ALB's one per AZ, the NAT's Elastic IP);
* Lambda: CloudWatch Logs ingestion, bytes per invocation (the platform's lines + the handler's
  JSON/EMF line) plus extra bytes per cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from twinbench.cost.traffic import HOURS_PER_MONTH

if TYPE_CHECKING:
    from twinbench.simulate.params import OneSidedCosts

__all__ = ["Row", "cluster_network", "control_plane", "default_costs", "lambda_logs"]


class Row(NamedTuple):
    """One bill row for a month: quantity x unit price."""

    name: str
    quantity: float
    unit: str
    unit_usd: float

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_usd


def default_costs() -> OneSidedCosts:
    """The parameters' defaults (``OneSidedCosts()``), for callers that were given none."""
    from twinbench.simulate.params import OneSidedCosts

    return OneSidedCosts()


def control_plane(costs: OneSidedCosts, prices: Any) -> Row:
    """The EKS cluster-hours of a month, at the extended-support rate when the cluster is past standard support."""
    if costs.eks_extended_support:
        return Row("EKS control plane (extended support)", HOURS_PER_MONTH, "cluster-hours",
                   prices.usd("eks_extended_support_usd_per_hour"))
    return Row("EKS control plane", HOURS_PER_MONTH, "cluster-hours", prices.usd("eks_cluster_usd_per_hour"))


def cluster_network(costs: OneSidedCosts, prices: Any) -> list[Row]:
    """NAT gateway hours and GB processed, public IPv4 addresses: what only the cluster pays."""
    return [
        Row(f"NAT gateway ({costs.nat_gateways})", costs.nat_gateways * HOURS_PER_MONTH, "gateway-hours",
            prices.usd("nat_gateway_usd_per_hour")),
        Row("NAT gateway data processed", costs.nat_gb_per_month, "GB", prices.usd("nat_gateway_usd_per_gb")),
        Row(f"public IPv4 addresses ({costs.public_ipv4})", costs.public_ipv4 * HOURS_PER_MONTH,
            "address-hours", prices.usd("public_ipv4_usd_per_hour")),
    ]


def lambda_logs(costs: OneSidedCosts, prices: Any, invocations: float, cold_starts: float) -> Row:
    """CloudWatch Logs ingestion for ``invocations`` (``cold_starts`` of them cold) in a month."""
    per_invocation, per_cold_start, _ = costs.log_bytes()
    gb = (invocations * per_invocation + cold_starts * per_cold_start) / 1e9
    return Row("CloudWatch Logs ingestion", gb, "GB",
               prices.usd("cloudwatch_logs_ingestion_usd_per_gb"))
