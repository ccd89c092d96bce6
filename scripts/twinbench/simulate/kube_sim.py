"""Kubernetes, per request: the HPA, pod start-up, node provisioning, per-pod queues.

Requests are spread over the ready pods, each a FIFO queue in front of its workers; the HPA
(``hpa.Hpa``, read from k8s/base/hpa.yaml) sets the replica count from the pods' CPU; new pods
wait for a node (or, with ``provisioner="fargate"``, their own capacity), the image pull and
their start-up. The simulation starts with ``minReplicas`` ready pods on ready nodes.

Details (each rule of the model): docs/simulation.md, 'The Kubernetes model (kube_sim.py)'.
"""

from __future__ import annotations

import math

import numpy as np

from twinbench.simulate import kernels as k
from twinbench.simulate.hpa import Hpa, HpaSpec
from twinbench.simulate.latency import LatencyRecorder
from twinbench.simulate.params import KubeParams

__all__ = ["KubeSim"]

INF = float("inf")


class KubeSim:
    """The cluster's state across chunks of arrivals; ``result()`` after ``finish()``."""

    def __init__(self, params: KubeParams, spec: HpaSpec, pods_per_node: int, minutes: int, seed: int = 0) -> None:
        self.p = params
        self.spec = spec
        self.hpa = Hpa(spec, params.tolerance)
        self.ppn = 1 if params.fargate else max(1, int(pods_per_node))
        self.node_waits = 0
        n_slots = spec.max_replicas
        w, q = int(params.workers), int(params.queue_limit)
        self.ready_at = np.full(n_slots, INF)
        self.gone_at = np.full(n_slots, -INF)
        self.created_at = np.zeros(n_slots)
        self.active = np.zeros(n_slots, dtype=bool)
        self.pod_node = np.full(n_slots, -1, dtype=np.int64)
        self.worker_free = np.zeros((n_slots, w))
        self.ring = np.zeros((n_slots, q))
        self.ring_head = np.zeros(n_slots, dtype=np.int64)
        self.ring_cnt = np.zeros(n_slots, dtype=np.int64)
        self.kints = np.array([n_slots - 1, seed % 2147483648], dtype=np.int64)
        # nodes: requested at, ready at, removed at (inf while up), pods on it, image pulled, empty since
        self.nodes: list[list[float]] = []
        self.minutes = minutes
        self.span_s = minutes * 60.0
        self.period = float(params.sync_period_s)
        self.n_periods = int(math.ceil(self.span_s / self.period)) + 1
        self.accepted_per_period = np.zeros(self.n_periods, dtype=np.int64)
        self.ready_per_period = np.zeros(self.n_periods, dtype=np.int64)
        self.next_sync = self.period
        self.replicas = spec.min_replicas
        self.replicas_pm = np.zeros(minutes, dtype=np.int64)
        self.ready_pm = np.zeros(minutes, dtype=np.int64)
        self.nodes_pm = np.zeros(minutes, dtype=np.int64)
        self.rejected_pm = np.zeros(minutes, dtype=np.int64)
        self.latency = LatencyRecorder(minutes)
        self.pod_seconds = 0.0
        self.node_seconds = 0.0
        self.requests = 0
        self.rejected = 0
        self.scale_events = 0
        self.cpu_s_per_request = (params.pod_cpu_m / 1000.0) / params.pod_capacity_rps
        floor = 0 if params.fargate else params.min_nodes
        self.min_nodes = floor
        for _ in range(max(floor, math.ceil(spec.min_replicas / self.ppn))):
            self.nodes.append([0.0, 0.0, INF, 0, 1, 0.0])
        for _ in range(spec.min_replicas):
            self._add_pod(0.0, initial=True)
        self._record(0.0)

    # ------------------------------------------------------------------ pods and nodes

    def _add_pod(self, now: float, initial: bool = False) -> None:
        slot = int(np.flatnonzero(~self.active)[0])
        node_i = None if self.p.fargate and not initial else \
            next((i for i, n in enumerate(self.nodes) if n[2] == INF and n[3] < self.ppn), None)
        if node_i is None:
            node_i = len(self.nodes)
            self.nodes.append([now, now + self.p.node_delay_s, INF, 0, 0, now])
        node = self.nodes[node_i]
        node[3] += 1
        if not initial and (node[1] > now or not node[4]):
            self.node_waits += 1
        pull = 0.0 if node[4] else self.p.image_pull_s
        node[4] = 1
        ready = 0.0 if initial else max(now, node[1]) + pull + self.p.pod_startup_s + self.p.readiness_gate_s
        self.active[slot] = True
        self.pod_node[slot] = node_i
        self.created_at[slot] = now
        self.ready_at[slot] = ready
        self.gone_at[slot] = INF
        self.worker_free[slot] = 0.0
        self.ring_head[slot] = 0
        self.ring_cnt[slot] = 0

    def _remove_pod(self, now: float) -> None:
        slots = np.flatnonzero(self.active)
        unready = slots[self.ready_at[slots] > now]
        pool = unready if unready.size else slots
        slot = int(pool[np.argmax(self.created_at[pool])])  # newest first
        self.active[slot] = False
        self.gone_at[slot] = now
        self.ready_at[slot] = INF if unready.size else self.ready_at[slot]
        self.pod_seconds += now - self.created_at[slot]
        node = self.nodes[int(self.pod_node[slot])]
        node[3] -= 1
        if node[3] == 0:
            node[5] = now

    def _reap_nodes(self, now: float) -> None:
        up = [n for n in self.nodes if n[2] == INF]
        for n in sorted(up, key=lambda n: -n[0]):
            if len([x for x in self.nodes if x[2] == INF]) <= self.min_nodes:
                break
            if n[3] == 0 and n[5] + self.p.node_idle_s <= now:
                n[2] = n[5] + self.p.node_idle_s
                self.node_seconds += n[2] - n[0]

    def _record(self, now: float) -> None:
        m = min(int(now // 60.0), self.minutes - 1)
        ready = int(np.count_nonzero(self.active & (self.ready_at <= now)))
        nodes = sum(1 for n in self.nodes if n[2] == INF)
        self.replicas_pm[m] = max(self.replicas_pm[m], self.replicas)
        self.ready_pm[m] = max(self.ready_pm[m], ready)
        self.nodes_pm[m] = max(self.nodes_pm[m], nodes)

    # ------------------------------------------------------------------ the control loop

    def _sync(self, now: float) -> None:
        j = int(round(now / self.period)) - 1 - self.p.metrics_lag_syncs  # the period the metric describes
        ready_now = int(np.count_nonzero(self.active & (self.ready_at <= now)))
        if j >= 0 and self.ready_per_period[j] > 0 and ready_now > 0:
            cores_per_pod = self.p.pod_cpu_m / 1000.0
            used = self.accepted_per_period[j] * self.cpu_s_per_request / self.period
            util = min(used / (self.ready_per_period[j] * cores_per_pod), 1.0)  # a pod cannot exceed its limit
            # Pods that became ready after the metric window have no metrics yet: like pods
            # still starting, the controller counts them as 0 % when scaling up.
            measured = min(ready_now, int(self.ready_per_period[j]))
            total = int(np.count_nonzero(self.active))
            # Ready but without a full metrics window since: "unready" (ignored unless scaling up);
            # not ready yet: no metric at all, "missing" (100 % on a scale-down, 0 % up).
            new = self.hpa.sync(now, self.replicas, measured, ready_now - measured, util * measured * cores_per_pod,
                                cores_per_pod, missing=total - ready_now)
            if new != self.replicas:
                self.scale_events += 1
            while self.replicas < new:
                self._add_pod(now)
                self.replicas += 1
            while self.replicas > new:
                self._remove_pod(now)
                self.replicas -= 1
        self._reap_nodes(now)
        self._record(now)

    def run_chunk(self, t: np.ndarray, svc_ms: np.ndarray, offsets: np.ndarray, first_minute: int,
                  end_minute: int) -> np.ndarray:
        """Serve one chunk of whole minutes, syncing the HPA at every period boundary inside it.

        Returns each request's latency in ms (-1 = rejected, 503).
        """
        latency = np.empty(t.size, dtype=np.float64)
        chunk_end = end_minute * 60.0
        start_t = first_minute * 60.0
        i0 = 0
        random_lb = self.p.balancing == "random"
        while True:
            seg_end = min(self.next_sync, chunk_end)
            i1 = int(np.searchsorted(t, seg_end, side="left"))
            period = min(int(start_t // self.period), self.n_periods - 1)
            self.ready_per_period[period] = max(self.ready_per_period[period],
                                                int(np.count_nonzero(self.active & (self.ready_at <= start_t))))
            if i1 > i0:
                self.accepted_per_period[period] += k.kube_segment(
                    t[i0:i1], svc_ms[i0:i1], self.ready_at, self.gone_at, self.worker_free, self.ring,
                    self.ring_head, self.ring_cnt, self.kints, int(self.p.queue_limit), random_lb, latency[i0:i1])
            i0 = i1
            if seg_end == self.next_sync and self.next_sync <= chunk_end:
                self._sync(self.next_sync)
                self.next_sync += self.period
                start_t = seg_end
                if seg_end < chunk_end:
                    continue
            break
        rejected = latency < 0
        csum = np.concatenate(([0], np.cumsum(rejected)))
        self.rejected_pm[first_minute:end_minute] += csum[offsets[1:]] - csum[offsets[:-1]]
        self.requests += int(t.size)
        self.rejected += int(csum[-1])
        self.latency.add(latency, offsets, first_minute)
        return latency

    def finish(self) -> None:
        """Run the syncs of the idle time after the last chunk; close pod- and node-hour books."""
        while self.next_sync < self.span_s:
            self._sync(self.next_sync)
            self.next_sync += self.period
        end = self.span_s
        for slot in np.flatnonzero(self.active):
            self.pod_seconds += end - self.created_at[slot]
        for n in self.nodes:
            if n[2] == INF:
                self.node_seconds += end - n[0]

    def result(self) -> dict[str, object]:
        requests = self.requests
        return {
            "requests": requests,
            "served": requests - self.rejected,
            "cold_starts": 0,
            "cold_start_fraction": 0.0,
            "throttled": 0,
            "rejected": self.rejected,
            "pod_seconds": self.pod_seconds,
            "node_seconds": self.node_seconds,
            "pods_per_node": self.ppn,
            "scale_events": self.scale_events,
            "max_replicas": int(self.replicas_pm.max()),
            "max_ready_replicas": int(self.ready_pm.max()),
            "max_nodes": int(self.nodes_pm.max()),
            "pods_waited_for_node": self.node_waits,
            "latency_ms": self.latency.summary(),
            "per_minute": {"replicas_max": self.replicas_pm, "ready_max": self.ready_pm, "nodes_max": self.nodes_pm,
                           "rejected": self.rejected_pm, "latency_ms": self.latency.per_minute},
        }
