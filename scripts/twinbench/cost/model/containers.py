"""The container platforms' monthly bills: EKS (control plane + nodes for the peak's pods + ALB) and Fargate
(EKS on Fargate by default, each pod at the smallest size holding it; ECS on Fargate optionally).

EKS = control plane 730 x $/h + nodes x 730 x instance $/h + ALB + what only the cluster pays (NAT gateway
hours and GB, public IPv4 addresses; extended support raises the control plane's rate: ``cost.one_sided``,
parameters ``simulate.params.OneSidedCosts``), pods = ceil(peak x headroom / pod_rps)
bin-packed onto nodes (see sizing). Fargate on EKS bills memory request + 256 MiB. ALB = $/h + $/LCU-hour,
an LCU-hour the largest of new connections/s / 25, active connections / 3000, processed GB/h, rule
evaluations/s / 1000. The fleets are sized for the profile's peak and run all month (no autoscaling).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twinbench.cost import one_sided
from twinbench.cost.model.configs import (
    GIB,
    T3_UNLIMITED_USD_PER_VCPU_HOUR,
    AlbAssumptions,
    ContainerConfig,
)
from twinbench.cost.model.outputs import (
    LineItem,
    PlatformCost,
)
from twinbench.cost.model.sizing import fargate_pod_size, node_allocatable, nodes_needed, pods_needed
from twinbench.cost.prices import (
    PriceTable,
    load_prices,
)
from twinbench.cost.traffic import (
    HOURS_PER_MONTH,
    TrafficProfile,
)

if TYPE_CHECKING:
    from twinbench.simulate.params import OneSidedCosts


def _alb_items(profile: TrafficProfile, alb: AlbAssumptions, prices: PriceTable) -> list[LineItem]:
    lcu = prices.lcu
    # Every LCU dimension is proportional to the request rate, so the largest one per request
    # times the rate is the per-minute LCU count, and its monthly mean is the mean rate's.
    lcu_per_rps = max(
        alb.new_connections_per_request / lcu.new_connections_per_s,
        alb.new_connections_per_request * alb.connection_duration_s / lcu.active_connections_per_minute,
        alb.processed_bytes_per_request * 3600.0 / GIB / lcu.processed_gb_per_hour,
        alb.rule_evaluations_per_request / lcu.rule_evaluations_per_s,
    )
    lcu_hours = profile.mean_rps * lcu_per_rps * HOURS_PER_MONTH
    hour_price, lcu_price = prices.usd("alb_usd_per_hour"), prices.usd("alb_usd_per_lcu_hour")
    return [LineItem("ALB hours", HOURS_PER_MONTH, "ALB-hours", hour_price, HOURS_PER_MONTH * hour_price),
            LineItem("ALB LCUs", lcu_hours, "LCU-hours", lcu_price, lcu_hours * lcu_price)]


def _line(row: one_sided.Row) -> LineItem:
    return LineItem(row.name, row.quantity, row.unit, row.unit_usd, row.monthly_usd)


def _cluster_items(costs: OneSidedCosts | None, prices: PriceTable, on_eks: bool = True) -> tuple[list[LineItem],
                                                                                                  list[LineItem]]:
    """(the control plane when ``on_eks``, the network rows): the one-sided costs of a container platform.

    ``costs`` None: the platform alone (standard control plane, no network rows), as the Power Tuning
    pricing and the simulator's peak-sized reference want it; ``compare`` passes the defaults."""
    plane_costs = costs or one_sided.default_costs()
    plane = [_line(one_sided.control_plane(plane_costs, prices))] if on_eks else []
    return plane, [] if costs is None else [_line(r) for r in one_sided.cluster_network(costs, prices)]


def eks_monthly_cost(profile: TrafficProfile, config: ContainerConfig, alb: AlbAssumptions | None = None,
                     prices: PriceTable | None = None, costs: OneSidedCosts | None = None) -> PlatformCost:
    """EKS control plane + EC2 nodes for the peak's pods + ALB + NAT and IPv4, for a month of ``profile``.

    ``costs``: the one-sided parameters (None: none of them, the platform alone)."""
    prices = prices or load_prices()
    alb = alb or AlbAssumptions()
    instance = prices.instance(config.instance_type)
    pods = pods_needed(profile.peak_rps, config)
    nodes = nodes_needed(pods, config, prices)
    node_hours = nodes * HOURS_PER_MONTH
    plane, network = _cluster_items(costs, prices)
    items = [*plane,
             LineItem(f"nodes ({instance.name})", node_hours, "instance-hours", instance.usd_per_hour,
                      node_hours * instance.usd_per_hour),
             *_alb_items(profile, alb, prices), *network]
    notes = []
    if instance.burstable_baseline_fraction is not None:
        notes.append(f"{instance.name} is burstable: CPU above {instance.burstable_baseline_fraction:.0%} per vCPU "
                     f"sustained costs ${T3_UNLIMITED_USD_PER_VCPU_HOUR}/vCPU-h in unlimited mode (not included)")
    if instance.architecture == "arm64":
        notes.append(f"{instance.name} is arm64: the container image must be built for linux/arm64")
    alloc_cpu, alloc_mem, _ = node_allocatable(instance, prices.node_overhead)
    return PlatformCost(
        platform="eks",
        label=f"EKS + EC2 {instance.name}",
        monthly_usd=sum(i.monthly_usd for i in items),
        items=tuple(items),
        sizing={"pods": pods, "nodes": nodes, "instance_type": instance.name,
                "node_allocatable_cpu_m": alloc_cpu, "node_allocatable_memory_mib": alloc_mem,
                "peak_rps": profile.peak_rps, "capacity_rps": pods * config.pod_rps},
        notes=tuple(notes),
    )


def fargate_monthly_cost(profile: TrafficProfile, config: ContainerConfig, alb: AlbAssumptions | None = None,
                         prices: PriceTable | None = None, on_eks: bool = True,
                         costs: OneSidedCosts | None = None) -> PlatformCost:
    """Fargate pods for the peak + ALB + NAT and IPv4 (+ EKS control plane when ``on_eks``), for a month.

    ``costs``: the one-sided parameters (None: none of them, the platform alone)."""
    prices = prices or load_prices()
    alb = alb or AlbAssumptions()
    pods = pods_needed(profile.peak_rps, config)
    vcpu, memory_gb = fargate_pod_size(config.pod_cpu_m, config.pod_memory_mib, prices, on_eks)
    vcpu_hours = pods * vcpu * HOURS_PER_MONTH
    gb_hours = pods * memory_gb * HOURS_PER_MONTH
    vcpu_price = prices.usd("fargate_x86_64_usd_per_vcpu_hour")
    gb_price = prices.usd("fargate_x86_64_usd_per_gb_hour")
    plane, network = _cluster_items(costs, prices, on_eks)
    items = [
        *plane,
        LineItem("Fargate vCPU", vcpu_hours, "vCPU-hours", vcpu_price, vcpu_hours * vcpu_price),
        LineItem("Fargate memory", gb_hours, "GB-hours", gb_price, gb_hours * gb_price),
        *_alb_items(profile, alb, prices), *network,
    ]
    return PlatformCost(
        platform="fargate",
        label="EKS on Fargate" if on_eks else "ECS on Fargate",
        monthly_usd=sum(i.monthly_usd for i in items),
        items=tuple(items),
        sizing={"pods": pods, "pod_vcpu": vcpu, "pod_memory_gb": memory_gb,
                "peak_rps": profile.peak_rps, "capacity_rps": pods * config.pod_rps},
    )
