"""Kubernetes sizing: pods for the peak with headroom, node allocatable after the EKS AMI's reservations and
the DaemonSets, first-fit-decreasing packing onto nodes, and the Fargate size that holds a pod."""

from __future__ import annotations

import math

from twinbench.cost.model.configs import (
    ContainerConfig,
    PodDoesNotFitError,
)
from twinbench.cost.prices import (
    InstanceType,
    NodeOverhead,
    PriceTable,
    load_prices,
)


def pods_needed(peak_rps: float, config: ContainerConfig) -> int:
    """Replicas that carry ``peak_rps`` with the headroom: ceil(peak x headroom / pod_rps)."""
    # The 1e-9 stops 2.0000000000000004 pods from becoming 3.
    return max(config.min_replicas, math.ceil(peak_rps * config.headroom_factor / config.pod_rps - 1e-9))


def node_allocatable(instance: InstanceType, overhead: NodeOverhead) -> tuple[float, float, int]:
    """(CPU millicores, memory MiB, pod slots) a node offers our pods after its own needs."""
    cores = instance.vcpu
    # EKS AMI kube-reserved CPU: 6 % of core 1, 1 % of core 2, 0.5 % of cores 3-4, 0.25 % above.
    reserved_cpu_m = (60.0 * min(cores, 1) + 10.0 * min(max(cores - 1, 0), 1)
                      + 5.0 * min(max(cores - 2, 0), 2) + 2.5 * max(cores - 4, 0))
    cpu_m = cores * 1000.0 - reserved_cpu_m - overhead.daemonset_cpu_m
    memory_mib = (instance.memory_gib * 1024.0 - overhead.kube_reserved_memory_base_mib
                  - overhead.kube_reserved_memory_per_pod_mib * instance.max_pods
                  - overhead.eviction_hard_memory_mib - overhead.daemonset_memory_mib)
    return cpu_m, memory_mib, instance.max_pods - overhead.daemonset_pods


def nodes_needed(pods: int, config: ContainerConfig, prices: PriceTable | None = None) -> int:
    """Nodes of ``config.instance_type`` holding ``pods`` replicas plus CoreDNS.

    First-fit decreasing over groups of identical nodes (pods of one kind are identical,
    so they are placed in bulk; the cost stays O(kinds x node groups), not O(pods)).
    Raises PodDoesNotFitError when one pod exceeds a node's allocatable resources.
    """
    prices = prices or load_prices()
    instance = prices.instance(config.instance_type)
    ov = prices.node_overhead
    alloc_cpu, alloc_mem, alloc_slots = node_allocatable(instance, ov)
    kinds = [("model pod", pods, config.pod_cpu_m, config.pod_memory_mib),
             ("coredns", ov.coredns_replicas, ov.coredns_cpu_m, ov.coredns_memory_mib)]
    kinds.sort(key=lambda k: max(k[2] / alloc_cpu, k[3] / alloc_mem), reverse=True)
    groups: list[list[float]] = []  # [node count, cpu free, memory free, slots free]

    def fit(cpu_free: float, mem_free: float, slots_free: float, cpu: float, mem: float) -> int:
        by_cpu = math.floor(cpu_free / cpu + 1e-9) if cpu > 0 else slots_free
        by_mem = math.floor(mem_free / mem + 1e-9) if mem > 0 else slots_free
        return int(max(0, min(by_cpu, by_mem, slots_free)))

    for name, count, cpu, mem in kinds:
        remaining = int(count)
        new_groups: list[list[float]] = []
        for group in groups:
            n_nodes, cpu_free, mem_free, slots_free = group
            per_node = fit(cpu_free, mem_free, slots_free, cpu, mem)
            if remaining == 0 or per_node == 0:
                new_groups.append(group)
                continue
            full = min(remaining // per_node, int(n_nodes))
            if full:
                new_groups.append([full, cpu_free - per_node * cpu, mem_free - per_node * mem, slots_free - per_node])
                remaining -= full * per_node
            untouched = int(n_nodes) - full
            if untouched and remaining:
                placed = min(remaining, per_node)
                new_groups.append([1, cpu_free - placed * cpu, mem_free - placed * mem, slots_free - placed])
                remaining -= placed
                untouched -= 1
            if untouched:
                new_groups.append([untouched, cpu_free, mem_free, slots_free])
        groups = new_groups
        if remaining:
            per_empty = fit(alloc_cpu, alloc_mem, alloc_slots, cpu, mem)
            if per_empty == 0:
                raise PodDoesNotFitError(
                    f"a {name} requests {cpu:g}m CPU / {mem:g} MiB but one {instance.name} node has only "
                    f"{alloc_cpu:g}m / {alloc_mem:g} MiB allocatable; choose a larger instance type")
            full, rest = divmod(remaining, per_empty)
            if full:
                groups.append([full, alloc_cpu - per_empty * cpu, alloc_mem - per_empty * mem, alloc_slots - per_empty])
            if rest:
                groups.append([1, alloc_cpu - rest * cpu, alloc_mem - rest * mem, alloc_slots - rest])
    return max(config.min_nodes, int(sum(g[0] for g in groups)))


def fargate_pod_size(cpu_m: float, memory_mib: float, prices: PriceTable | None = None,
                     on_eks: bool = True) -> tuple[float, float]:
    """(vCPU, memory GB) Fargate bills for a pod: the smallest size that holds it.

    On EKS, 256 MiB for kubelet, kube-proxy and containerd is added to the memory request.
    Raises PodDoesNotFitError above the largest Fargate size.
    """
    prices = prices or load_prices()
    need_mib = memory_mib + (prices.fargate_kubernetes_overhead_mib if on_eks else 0.0)
    for vcpu, memories in prices.fargate_sizes:
        if vcpu * 1000.0 + 1e-9 < cpu_m:
            continue
        for memory_gb in memories:
            if memory_gb * 1024.0 + 1e-9 >= need_mib:
                return vcpu, memory_gb
    raise PodDoesNotFitError(f"no Fargate size holds {cpu_m:g}m CPU and {need_mib:g} MiB")
