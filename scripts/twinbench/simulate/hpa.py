"""The HorizontalPodAutoscaler v2 algorithm, as documented and as the controller implements it.

Read from the manifests the project ships (``k8s/base/hpa.yaml`` and, optionally, an overlay's
JSON patches to it), so the simulation autoscales exactly what ``kubectl apply -k`` deploys.
Per sync: utilisation ratio with tolerance, desired replicas within min/max, stabilisation
(``stabilize``), then the behaviour's rate limits (``limit_by_policies``); Kubernetes' defaults
when ``behavior`` is absent. Each rule is pinned by a test vector in tests/simulate/test_hpa.py
naming the controller function it follows.

Details (the steps, the defaults, the controller sources): docs/simulation.md, 'The HPA model'.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinbench.simulate.errors import InputsError

__all__ = ["Hpa", "HpaSpec", "Policy", "ScalingRules", "desired_replicas", "limit_by_policies",
           "load_hpa_spec", "stabilize", "utilization_pct"]


@dataclass(frozen=True)
class Policy:
    kind: str  # "Pods" | "Percent"
    value: int
    period_s: int


@dataclass(frozen=True)
class ScalingRules:
    stabilization_s: int
    select: str  # "Max" | "Min" | "Disabled"
    policies: tuple[Policy, ...]
    tolerance: float | None = None
    """Kubernetes 1.33+ per-direction tolerance; None = the controller's global one."""


DEFAULT_SCALE_UP = ScalingRules(0, "Max", (Policy("Percent", 100, 15), Policy("Pods", 4, 15)))
DEFAULT_SCALE_DOWN = ScalingRules(300, "Max", (Policy("Percent", 100, 15),))


@dataclass(frozen=True)
class HpaSpec:
    min_replicas: int
    max_replicas: int
    target_utilization: float  # fraction of the CPU request, e.g. 0.70
    scale_up: ScalingRules
    scale_down: ScalingRules
    source: str = ""
    legacy: bool = False
    """No ``behavior`` in the manifest: the controller's legacy path (normalizeDesiredReplicas)."""

    def to_dict(self) -> dict[str, Any]:
        def rules(r: ScalingRules) -> dict[str, Any]:
            return {"stabilization_s": r.stabilization_s, "select": r.select,
                    "policies": [{"type": p.kind, "value": p.value, "period_s": p.period_s} for p in r.policies],
                    "tolerance": r.tolerance}
        return {"min_replicas": self.min_replicas, "max_replicas": self.max_replicas,
                "target_cpu_utilization": self.target_utilization, "scale_up": rules(self.scale_up),
                "scale_down": rules(self.scale_down), "source": self.source, "legacy": self.legacy}


def _yaml_documents(path: Path) -> list[Any]:
    import yaml  # deferred: only the manifest readers need PyYAML

    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    except OSError as exc:
        raise InputsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputsError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None


def _apply_json_patch(doc: dict, ops: list[dict], where: str) -> None:
    """The JSON-patch ops kustomize overlays use on the HPA (add/replace of a path)."""
    for op in ops:
        if op.get("op") not in ("add", "replace"):
            raise InputsError(f"{where}: only add/replace patches of the HPA are supported, got {op.get('op')!r}")
        keys = [k for k in str(op.get("path", "")).split("/") if k]
        if not keys:
            raise InputsError(f"{where}: patch without a path")
        node: Any = doc
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = op.get("value")
        else:
            node[last] = op.get("value")


def _quantity(raw: Any) -> float:
    """A Kubernetes quantity as the tolerance uses it: 0.05, "0.05" or "50m"."""
    text = str(raw).strip()
    return float(text[:-1]) / 1000.0 if text.endswith("m") else float(text)


def _rules(raw: dict | None, default: ScalingRules, where: str) -> ScalingRules:
    if not raw:
        return default
    try:
        policies = tuple(Policy(str(p["type"]), int(p["value"]), int(p["periodSeconds"]))
                         for p in raw.get("policies", [])) or default.policies
        tol = _quantity(raw["tolerance"]) if raw.get("tolerance") is not None else None
        rules = ScalingRules(int(raw.get("stabilizationWindowSeconds", default.stabilization_s)),
                             str(raw.get("selectPolicy", "Max")), policies, tol)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputsError(f"{where}: malformed behavior policy ({exc!r})") from None
    if rules.tolerance is not None and not 0 <= rules.tolerance < 1:
        raise InputsError(f"{where}: behavior tolerance must be in [0, 1)")
    if rules.select not in ("Max", "Min", "Disabled") or any(p.kind not in ("Pods", "Percent") or p.value < 0
                                                             or p.period_s <= 0 for p in rules.policies):
        raise InputsError(f"{where}: behavior policies must be Pods/Percent with values >= 0 and periods > 0")
    return rules


def load_hpa_spec(hpa_yaml: str | Path, overlay_kustomization: str | Path | None = None) -> HpaSpec:
    """Read the HPA (and an overlay's patches targeting it); raises InputsError."""
    path = Path(hpa_yaml)
    docs = [d for d in _yaml_documents(path) if isinstance(d, dict) and d.get("kind") == "HorizontalPodAutoscaler"]
    if not docs:
        raise InputsError(f"{path}: no HorizontalPodAutoscaler in it")
    doc = docs[0]
    source = str(path)
    if overlay_kustomization:
        opath = Path(overlay_kustomization)
        if opath.is_dir():
            opath = opath / "kustomization.yaml"
        for kdoc in _yaml_documents(opath):
            for patch in (kdoc.get("patches") or []) if isinstance(kdoc, dict) else []:
                target = patch.get("target") or {}
                if target.get("kind") == "HorizontalPodAutoscaler" and isinstance(patch.get("patch"), str):
                    import yaml

                    ops = yaml.safe_load(patch["patch"])
                    if isinstance(ops, list):
                        _apply_json_patch(doc, ops, str(opath))
        source += f" + {opath}"
    spec = doc.get("spec") or {}
    try:
        metrics = [m for m in spec.get("metrics", []) if m.get("type") == "Resource"
                   and m["resource"]["name"] == "cpu" and m["resource"]["target"]["type"] == "Utilization"]
        if not metrics:
            raise InputsError(f"{source}: the simulator models a CPU Utilization target; none found")
        target = float(metrics[0]["resource"]["target"]["averageUtilization"]) / 100.0
        behavior = spec.get("behavior") or {}
        out = HpaSpec(int(spec.get("minReplicas", 1)), int(spec["maxReplicas"]), target,
                      _rules(behavior.get("scaleUp"), DEFAULT_SCALE_UP, source),
                      _rules(behavior.get("scaleDown"), DEFAULT_SCALE_DOWN, source), source,
                      legacy=not spec.get("behavior"))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputsError(f"{source}: malformed HPA spec ({exc!r})") from None
    if not (1 <= out.min_replicas <= out.max_replicas) or not (0 < target <= 10):
        raise InputsError(f"{source}: need 1 <= minReplicas <= maxReplicas and a target > 0 %")
    return out


LEGACY_DOWNSCALE_WINDOW_S = 300.0
"""kube-controller-manager ``--horizontal-pod-autoscaler-downscale-stabilization`` default."""
LEGACY_SCALE_UP_MINIMUM = 4
"""horizontal.go ``scaleUpLimitMinimum`` (with ``scaleUpLimitFactor`` 2.0)."""


def utilization_pct(used_m: int, requested_m: int) -> int:
    """``GetResourceUtilizationRatio``: int32((metricsTotal * 100) / requestsTotal), whole percent."""
    return (used_m * 100) // requested_m if requested_m > 0 else 0


def desired_replicas(current: int, utilization: float, target: float, tolerance: float = 0.1) -> int:
    """ceil(current x utilization / target), or ``current`` when within the tolerance."""
    if current == 0:
        return 0
    ratio = utilization / target
    if abs(ratio - 1.0) <= tolerance:
        return current
    return math.ceil(ratio * current - 1e-9)  # 1e-9: 3 x 0.7 / 0.7 must stay 3 in floating point


def stabilize(current: int, recommendations: list[tuple[float, int]], now: float, up_window_s: float,
              down_window_s: float) -> int:
    """The controller's stabilisation: min over the up window, max over the down window.

    ``recommendations`` holds (time, desired) including the one made ``now``.
    """
    up = down = recommendations[-1][1]
    for t, rec in recommendations:
        if t > now - up_window_s or t == now:
            up = min(up, rec)
        if t > now - down_window_s or t == now:
            down = max(down, rec)
    out = current
    if out < up:
        out = up
    if out > down:
        out = down
    return out


def limit_by_policies(current: int, desired: int, events: list[tuple[float, int]], now: float,
                      up: ScalingRules, down: ScalingRules) -> int:
    """Clamp ``desired`` by the scale-up or scale-down policies; ``events`` = (time, +added/-removed)."""
    if desired > current:
        if up.select == "Disabled":
            return current
        limits = []
        for p in up.policies:
            # calculateScaleUpLimitWithScalingRules: the period starts at current - added + removed
            added = sum(d for t, d in events if d > 0 and t > now - p.period_s)
            removed = -sum(d for t, d in events if d < 0 and t > now - p.period_s)
            start = current - added + removed
            limits.append(start + p.value if p.kind == "Pods" else math.ceil(start * (1 + p.value / 100.0)))
        limit = max(limits) if up.select == "Max" else min(limits)
        return max(current, min(desired, limit))
    if desired < current:
        if down.select == "Disabled":
            return current
        limits = []
        for p in down.policies:
            removed = -sum(d for t, d in events if d < 0 and t > now - p.period_s)
            added = sum(d for t, d in events if d > 0 and t > now - p.period_s)
            start = current + removed - added
            limits.append(start - p.value if p.kind == "Pods" else math.floor(start * (1 - p.value / 100.0)))
        limit = min(limits) if down.select == "Max" else max(limits)
        return min(current, max(desired, limit))
    return current


class Hpa:
    """The controller's state across syncs: recommendations and scale events in their windows."""

    def __init__(self, spec: HpaSpec, tolerance: float = 0.1) -> None:
        self.spec = spec
        self.tolerance = tolerance
        self.recommendations: deque[tuple[float, int]] = deque()
        self.events: deque[tuple[float, int]] = deque()
        self._horizon = max([spec.scale_up.stabilization_s, spec.scale_down.stabilization_s,
                             LEGACY_DOWNSCALE_WINDOW_S if spec.legacy else 0]
                            + [p.period_s for p in spec.scale_up.policies + spec.scale_down.policies])
        self._seeded = False

    def within(self, ratio: float) -> bool:
        """``tolerances.isWithin``: per-direction tolerances (1.33+) else the global one."""
        up = self.spec.scale_up.tolerance if self.spec.scale_up.tolerance is not None else self.tolerance
        down = self.spec.scale_down.tolerance if self.spec.scale_down.tolerance is not None else self.tolerance
        return 1.0 - down <= ratio <= 1.0 + up

    def replicas_for(self, current: int, ready: int, unready: int, missing: int, cpu_used_cores: float,
                     cpu_request_cores: float) -> int:
        """``GetResourceReplicas``: the proposal from the ready pods' summed millicores.

        ``unready``: running pods without a full metrics window since ready (ignored unless
        scaling up, then 0 %); ``missing``: pods with no metric yet (100 %+ down, 0 % up).
        """
        target_pct = round(self.spec.target_utilization * 100)
        request_m = int(round(cpu_request_cores * 1000))
        used_m = int(cpu_used_cores * 1000)
        ratio = utilization_pct(used_m, ready * request_m) / target_pct
        scale_up_with_unready = unready > 0 and ratio > 1.0
        if not scale_up_with_unready and missing == 0:
            if self.within(ratio):
                return current
            return math.ceil(ratio * ready)
        counted, total_m = ready, used_m
        if missing and ratio < 1.0:
            counted += missing
            total_m += missing * request_m * max(100, target_pct) // 100
        elif missing and ratio > 1.0:
            counted += missing
        if scale_up_with_unready:
            counted += unready
        new_ratio = utilization_pct(total_m, counted * request_m) / target_pct
        if self.within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
            return current
        new = math.ceil(new_ratio * counted)
        if (new_ratio < 1.0 and new > current) or (new_ratio > 1.0 and new < current):
            return current
        return new

    def sync(self, now: float, current: int, ready: int, unready: int, cpu_used_cores: float,
             cpu_request_cores: float, missing: int = 0) -> int:
        """One reconcile: the new replica count given the ready pods' measured CPU.

        ``cpu_used_cores`` is the ready pods' summed usage over the metric window. With no
        ready pod there is no metric and the count stays (as the controller does).
        """
        if ready == 0:
            return current
        if not self.recommendations and not self._seeded:
            # reconcileAutoscaler: a fresh controller's list starts with the current count
            # (just before now: it holds the scale-down window, not a scale-up at window 0).
            self._seeded = True
            self.recommendations.append((now - 1e-6, current))
        proposal = self.replicas_for(current, ready, unready, missing, cpu_used_cores, cpu_request_cores)
        proposal = min(max(proposal, self.spec.min_replicas), self.spec.max_replicas)
        self.recommendations.append((now, proposal))
        while self.recommendations and self.recommendations[0][0] <= now - self._horizon:
            self.recommendations.popleft()
        while self.events and self.events[0][0] <= now - self._horizon:
            self.events.popleft()
        if self.spec.legacy:
            # normalizeDesiredReplicas: max over the downscale window, then scale-up capped at
            # max(2 x current, 4) per sync (convertDesiredReplicasWithRules), no down rate limit.
            stable = max(r for t, r in self.recommendations if t > now - LEGACY_DOWNSCALE_WINDOW_S or t == now)
            new = min(stable, max(2 * current, LEGACY_SCALE_UP_MINIMUM)) if stable > current else stable
        else:
            stable = stabilize(current, list(self.recommendations), now, self.spec.scale_up.stabilization_s,
                               self.spec.scale_down.stabilization_s)
            new = limit_by_policies(current, stable, list(self.events), now, self.spec.scale_up,
                                    self.spec.scale_down)
        new = min(max(new, self.spec.min_replicas), self.spec.max_replicas)
        if new != current:
            self.events.append((now, new - current))
        return new
