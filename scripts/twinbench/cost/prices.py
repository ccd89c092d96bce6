"""The pinned price table (``prices.json``): the one place prices are read.

The cost model, the simulation and the CloudWatch collector all price their quantities
from this table, so a measured and a predicted cost never use different figures. Each
price carries its unit, its source and the date it was read (``as_of``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from twinbench.cost.traffic import CostModelError

DEFAULT_PRICES_PATH = Path(__file__).with_name("prices.json")


class PriceTableError(CostModelError):
    """The price table is missing a price, or lacks one the chosen options need."""



@dataclass(frozen=True)
class Price:
    """One pinned price: the number, what it is per, where it came from and when."""

    usd: float
    unit: str
    source: str
    as_of: str


@dataclass(frozen=True)
class InstanceType:
    """An EC2 instance type as a Kubernetes node: price, size and the pod-slot limit."""

    name: str
    usd_per_hour: float
    vcpu: int
    memory_gib: float
    architecture: str
    max_pods: int
    burstable_baseline_fraction: float | None
    source: str
    as_of: str


@dataclass(frozen=True)
class NodeOverhead:
    """What an EKS node keeps for itself; see ``eks_node_overhead`` in prices.json."""

    kube_reserved_memory_base_mib: float
    kube_reserved_memory_per_pod_mib: float
    eviction_hard_memory_mib: float
    daemonset_cpu_m: float
    daemonset_memory_mib: float
    daemonset_pods: int
    coredns_replicas: int
    coredns_cpu_m: float
    coredns_memory_mib: float


@dataclass(frozen=True)
class LcuDimensions:
    """How much of each ALB dimension makes one LCU (per hour)."""

    new_connections_per_s: float
    active_connections_per_minute: float
    processed_gb_per_hour: float
    rule_evaluations_per_s: float
    free_rules: int


@dataclass(frozen=True)
class PriceTable:
    """The pinned prices as typed data; ``usd(key)`` raises PriceTableError if absent."""

    region: str
    hours_per_month: float
    pinned_on: str
    provenance: str
    prices: Mapping[str, Price]
    instances: Mapping[str, InstanceType]
    node_overhead: NodeOverhead
    lcu: LcuDimensions
    fargate_sizes: tuple[tuple[float, tuple[float, ...]], ...]
    fargate_kubernetes_overhead_mib: float
    path: str

    def usd(self, key: str) -> float:
        try:
            return self.prices[key].usd
        except KeyError:
            raise PriceTableError(f"price {key!r} is not pinned in {self.path}") from None

    def instance(self, name: str) -> InstanceType:
        try:
            return self.instances[name]
        except KeyError:
            known = ", ".join(sorted(self.instances))
            raise PriceTableError(f"instance type {name!r} is not pinned in {self.path}; known: {known}") from None

    def citations(self) -> list[dict[str, Any]]:
        """Every price with unit, source and date: the report prints this as its price table."""
        rows = [{"name": k, "usd": p.usd, "unit": p.unit, "source": p.source, "as_of": p.as_of}
                for k, p in self.prices.items()]
        rows += [{"name": f"ec2 {i.name}", "usd": i.usd_per_hour,
                  "unit": f"instance-hour ({i.vcpu} vCPU, {i.memory_gib:g} GiB, {i.architecture})",
                  "source": i.source, "as_of": i.as_of} for i in self.instances.values()]
        return rows


def load_prices(path: str | Path | None = None) -> PriceTable:
    """Read a price table (default: the pinned ``prices.json`` next to this module).

    Raises PriceTableError when the file is unreadable or a section is missing.
    """
    return _load_prices_cached(str(Path(path) if path else DEFAULT_PRICES_PATH))


@lru_cache(maxsize=8)
def _load_prices_cached(path: str) -> PriceTable:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        prices = {k: Price(float(v["usd"]), v["unit"], v["source"], v["as_of"]) for k, v in raw["prices"].items()}
        instances = {
            name: InstanceType(name, float(v["usd_per_hour"]), int(v["vcpu"]), float(v["memory_gib"]),
                               v["architecture"], int(v["max_pods"]), v.get("burstable_baseline_fraction"),
                               v["source"], v["as_of"])
            for name, v in raw["ec2_instances"].items() if not name.startswith("_")
        }
        ov = raw["eks_node_overhead"]
        overhead = NodeOverhead(**{f.name: ov[f.name] for f in fields(NodeOverhead)})
        lcu_raw = raw["alb_lcu_dimensions"]
        lcu = LcuDimensions(lcu_raw["new_connections_per_s"], lcu_raw["active_connections_per_minute"],
                            lcu_raw["processed_gb_per_hour_ec2_targets"], lcu_raw["rule_evaluations_per_s"],
                            lcu_raw["free_rules"])
        sizes = tuple((float(s["vcpu"]), tuple(float(m) for m in s["memory_gb"]))
                      for s in raw["fargate_pod_sizes"]["sizes"])
        return PriceTable(raw["region"], float(raw["hours_per_month"]), raw["pinned_on"], raw["provenance"],
                          prices, instances, overhead, lcu, sizes,
                          float(raw["fargate_pod_sizes"]["kubernetes_overhead_memory_mib"]), path)
    except OSError as exc:
        raise PriceTableError(f"cannot read price table {path}: {exc.strerror}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise PriceTableError(f"price table {path} is malformed: {exc!r}") from exc
