"""Feed the benchmark's measured numbers into the cost model (:mod:`twinbench.cost.model`).

Inputs taken from the run: Lambda billed duration (mean of the warm REPORT lines' Billed Duration,
or — remote / no REPORT lines — the client's warm median rounded up, flagged as such), memory
size, median Init Duration, and the container's throughput per pod at the SLO (the knee; if no
step met the SLO, the cost section says so and is left out). The Lambda caps are serverless.yml's. The result, including the curve the
plot draws, is stored in results.json so the report re-renders without recomputing.
"""

from __future__ import annotations

import math

__all__ = ["cost_section"]


def _lambda_inputs(doc: dict) -> tuple[float | None, int | None, float, list[str]]:
    notes: list[str] = []
    reports = doc.get("lambda_reports", {}).get("lambda")
    memory = None
    init_ms = 0.0
    billed = None
    if reports and reports.get("raw"):
        from twinbench.cost.model import mean_billed_duration_ms

        warm = [r["billed_duration_ms"] for r in reports["raw"] if r.get("init_duration_ms") is None]
        if warm:
            billed = mean_billed_duration_ms(warm)
        memory = reports.get("memory_size_mb")
        init_ms = reports["init_duration"].get("median_ms") or 0.0
        notes.append(f"Lambda billed duration: mean of {len(warm)} warm REPORT lines")
    if memory is None:
        memory = doc.get("targets", {}).get("lambda", {}).get("config", {}).get("memory_mb")
    if billed is None:
        warm = doc.get("scenarios", {}).get("warm", {}).get("lambda")
        median = warm["latency"]["median_ms"] if warm else None
        if median:
            billed = float(math.ceil(median))
            notes.append("Lambda billed duration estimated from the client's warm median (no REPORT lines): "
                         "an over-estimate, it includes the network")
    return billed, (int(memory) if memory else None), float(init_ms), notes


def cost_section(doc: dict, traffic_rps: float, shape: str = "constant") -> dict | None:
    """The cost comparison for ``traffic_rps`` (mean) of ``shape`` (constant|diurnal), or a skip reason."""
    try:
        from twinbench.cost import model as cost
        from twinbench.cost import traffic
    except ImportError as exc:
        return {"skipped": True, "reason": f"cost model not available: {exc}"}
    billed, memory, init_ms, notes = _lambda_inputs(doc)
    scal = doc.get("scenarios", {}).get("scalability", {}).get("container")
    pod_rps = scal.get("knee_rps") if scal else None
    if billed is None or memory is None:
        return {"skipped": True, "reason": "no Lambda billed duration measured (run the warm scenario on lambda)"}
    if not pod_rps:
        return {"skipped": True, "reason": "no container throughput at the SLO (the scalability scenario found no knee)"}
    notes.append(f"container throughput per pod: {pod_rps:g} rps (local knee at p99 <= {scal['slo_ms']:g} ms)")
    if any(s["generator"]["bottleneck"] for s in scal["rate_steps"]):
        notes.append("the load generator limited some container steps, so pod throughput (and EKS cost) is conservative")
    profile = traffic.diurnal(traffic_rps) if shape == "diurnal" else traffic.constant(traffic_rps)
    # The caps serverless.yml deploys: what they turn away is not billed (the cost model's "Caps").
    from twinserve_support.lambda_caps import deployed_caps

    try:
        caps = deployed_caps()
    except ValueError as exc:
        return {"skipped": True, "reason": f"serverless.yml's caps: {exc}"}
    lam = cost.LambdaConfig(billed_duration_ms=billed, memory_mb=memory, init_duration_ms=init_ms,
                            reserved_concurrency=caps.reserved_concurrency, throttle_rate_rps=caps.throttle_rate_rps)
    ctr = cost.ContainerConfig(pod_rps=float(pod_rps))
    comparison = cost.compare(profile, lam, ctr)
    curve = cost.cost_curve(profile, lam, ctr)
    return {
        "skipped": False,
        "traffic_rps": traffic_rps,
        "traffic_shape": shape,
        "inputs": {"billed_duration_ms": billed, "memory_mb": memory, "init_duration_ms": init_ms, "pod_rps": pod_rps,
                   "reserved_concurrency": caps.reserved_concurrency, "throttle_rate_rps": caps.throttle_rate_rps},
        "notes": notes,
        "comparison": comparison.to_dict(),
        "curve": {
            "mean_rps": [round(float(v), 4) for v in curve.mean_rps],
            "lambda_monthly_usd": [round(float(v), 4) for v in curve.lambda_monthly_usd],
            "eks_monthly_usd": [round(float(v), 4) for v in curve.eks_monthly_usd],
            "fargate_monthly_usd": [round(float(v), 4) for v in curve.fargate_monthly_usd],
            "break_even_eks_rps": curve.break_even_eks.rps,
            "break_even_fargate_rps": curve.break_even_fargate.rps,
        },
    }
