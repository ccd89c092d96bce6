"""The ``twinbench.recommendation`` document and its text rendering.

Shape (schema: results/schemas/recommendation.schema.json; history: results/FORMATS.md)::

    {"format": "twinbench.recommendation", "version": 1, "created": ..., "slo": {...},
     "profile": {...}, "inputs": {...},
     "platforms": {"lambda": {"feasible": bool, "best": <figures>|null, "shipped": <figures>,
                              "closest": <figures>|null, "binding": [...], "search": {...}},
                   "kubernetes": {...}},
     "verdict": {"winner": "lambda"|"kubernetes"|null, "text": ..., ...}}

``<figures>`` = ``config``, ``cost_usd_per_month``, ``latency_ms`` (``p50``, ``p99``,
``at_slo_percentile``), ``cold_starts``, ``errors``, ``error_fraction``, ``meets_slo``, ``binding``.
A platform that misses the SLO is never ranked on cost: the verdict compares the platforms at their
best *feasible* configurations only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from twinbench.recommend.search import Candidate, PlatformSearch
from twinbench.results.formats import RECOMMENDATION
from twinbench.simulate import engine
from twinbench.simulate.params import ARM64_SPEED_FACTOR_UNKNOWN
from twinbench.simulate.slo import Slo

__all__ = ["build", "describe_config", "render_text", "verdict"]

NAMES = {"lambda": "Lambda", "kubernetes": "Kubernetes (EKS)"}


def verdict(platforms: dict[str, dict[str, Any]], slo: Slo) -> dict[str, Any]:
    """The cheaper platform among those whose best configuration meets the SLO, or why none does."""
    feasible = {k: p["best"]["cost_usd_per_month"] for k, p in platforms.items() if p["feasible"]}
    if not feasible:
        return {"winner": None, "costs_usd_per_month": {},
                "text": f"no platform meets the SLO ({slo.describe()}) with any configuration searched; "
                        + "; ".join(f"{NAMES[k]}: {', '.join(p['binding']) or '-'} binds" for k, p in platforms.items())}
    winner = min(feasible, key=lambda k: feasible[k])
    others = {k: v for k, v in feasible.items() if k != winner}
    text = f"{NAMES[winner]} at its best: ${feasible[winner]:,.2f}/month"
    for k, v in others.items():
        text += f" vs {NAMES[k]} at its best ${v:,.2f} ({v / feasible[winner]:.2f}x)" if feasible[winner] else ""
    for k, p in platforms.items():
        if not p["feasible"]:
            text += f"; no {NAMES[k]} configuration searched meets the SLO ({', '.join(p['binding'])} binds)"
    return {"winner": winner, "costs_usd_per_month": feasible, "text": text + f" (SLO {slo.describe()})"}


def _search_summary(s: PlatformSearch) -> dict[str, Any]:
    return {"evaluated": len(s.evaluated), "pruned": s.pruned, "same_as_twin": s.same_as_twin, "grid_size": s.grid_size,
            "exhaustive": s.exhaustive, "elapsed_s": round(s.elapsed_s, 2), "budget_reached": s.budget_reached,
            "pareto": [{"cost_usd_per_month": round(c.cost_usd_per_month, 4), "latency_ms": c.slo_latency_ms,
                        "meets_slo": c.feasible, "config": c.choice.to_dict()} for c in pareto(s.evaluated)]}


def pareto(cands: list[Candidate]) -> list[Candidate]:
    """Cost vs latency at the SLO percentile: the candidates no other beats on both (errors-free first)."""
    ok = sorted((c for c in cands if c.slo_latency_ms is not None),
                key=lambda c: (c.cost_usd_per_month, c.slo_latency_ms))
    front: list[Candidate] = []
    best_lat = float("inf")
    for c in ok:
        if c.slo_latency_ms is not None and c.slo_latency_ms < best_lat:
            front.append(c)
            best_lat = c.slo_latency_ms
    return front


def build(base: engine.SimulationConfig, slo: Slo, searches: dict[str, PlatformSearch],
          shipped: dict[str, Candidate], exhaustive: bool = False) -> dict[str, Any]:
    platforms: dict[str, dict[str, Any]] = {}
    for name, s in searches.items():
        platforms[name] = {
            "feasible": s.best is not None,
            "best": s.best.to_dict() if s.best else None,
            "shipped": shipped[name].to_dict(),
            "closest": s.closest.to_dict() if s.closest else None,
            "binding": s.binding(),
            "search": _search_summary(s),
        }
    return {
        **RECOMMENDATION.header(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "slo": slo.to_dict(),
        "profile": base.profile.summary(),
        "inputs": {**base.inputs, "seed": base.seed, "figures": "simulated (twinbench simulate's model)",
                   "one_sided_costs": {k: v for k, v in base.costs.__dict__.items()},
                   "arm64": arm64_assumption(base.lambda_params.arm64_speed_factor)},
        "platforms": platforms,
        "verdict": verdict(platforms, slo),
    }


def arm64_assumption(factor: float) -> dict[str, Any]:
    """How arm64's durations were obtained, said plainly: a given factor, or none (taken equal)."""
    if factor == ARM64_SPEED_FACTOR_UNKNOWN:
        text = ("arm64 durations taken equal to x86_64's: not measured here (no arm64 machine); arm64 "
                "is chosen only for its lower GB-s price")
    else:
        text = f"arm64 durations = x86_64's / {factor:g} (a given speed factor, not measured here)"
    return {"speed_factor": factor, "measured": False, "text": text}


def _fmt(c: dict[str, Any] | None) -> list[str]:
    if c is None:
        return ["-"] * 6
    lat = c["latency_ms"]
    mark = "" if c["meets_slo"] else " (misses: " + "+".join(c["binding"]) + ")"
    return [f"${c['cost_usd_per_month']:,.2f}{mark}", f"{_ms(lat['p50'])} / {_ms(lat['p99'])}",
            _ms(lat["at_slo_percentile"]), f"{c['cold_starts']:,}", f"{c['errors']:,}", describe_config(c["config"])]


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}"


def describe_config(cfg: dict[str, Any]) -> str:
    """One line for a figures' ``config`` (either platform), as the text rendering shows it."""
    if "memory_mb" in cfg:
        parts = [f"{cfg['memory_mb']} MB {cfg['architecture']}"]
        if cfg["provisioned_concurrency"]:
            parts.append(f"PC {cfg['provisioned_concurrency']}")
        if cfg.get("provisioned_schedule"):
            hours = cfg["provisioned_schedule"]
            parts.append(f"PC hourly {min(hours)}..{max(hours)} (UTC {'/'.join(map(str, hours))})")
        if cfg["snapstart"]:
            parts.append("SnapStart")
        parts.append(f"reserved {cfg['reserved_concurrency']}")
        if cfg.get("throttle_rate_rps") is not None:
            parts.append(f"route {cfg['throttle_rate_rps']:g}/s burst {cfg['throttle_burst']}")
        if cfg.get("front_door"):
            parts.append("Function URL (SigV4)" if cfg["front_door"] == "function-url" else "HTTP API")
        return ", ".join(parts)
    return (f"{cfg['pod_cpu_m']}m/{cfg['pod_memory_mib']}Mi x{cfg['workers']}w, HPA {cfg['min_replicas']}.."
            f"{cfg['max_replicas']} @{cfg['target_utilization']:.0%}{' fast-up' if cfg.get('scale_up') == 'fast' else ''}"
            f"{' fast-down' if cfg.get('scale_down') == 'fast' else ''}, "
            + ("EKS on Fargate" if cfg["provisioner"] == "fargate" else
               f"{cfg['instance_type']}, {cfg['provisioner']}"
               + (f", {cfg['warm_nodes']} warm node(s)" if cfg.get("warm_nodes") else "")))


def render_text(doc: dict[str, Any]) -> str:
    slo = doc["slo"]
    prof = doc["profile"]
    lines = [f"Recommendation for {prof.get('description') or prof['name']} ({prof['requests']:,} requests, "
             f"{prof['minutes']:,} min), SLO p{slo['percentile']:g} <= {slo['latency_ms']:g} ms, errors <= "
             f"{slo['error_budget'] * 100:g} %  [simulated]", ""]
    for name, p in doc["platforms"].items():
        s = p["search"]
        twins = f", {s['same_as_twin']} skipped as their twin" if s.get("same_as_twin") else ""
        lines.append(f"{NAMES[name]}: {s['evaluated']} configurations simulated, {s['pruned']} pruned{twins}, grid "
                     f"{s['grid_size']}{' (exhaustive)' if s['exhaustive'] else ''}, {s['elapsed_s']:.1f} s"
                     f"{' (stopped at the time budget: the best found so far)' if s.get('budget_reached') else ''}")
        head = ["", "cost/month", "p50 / p99 ms", f"p{slo['percentile']:g} ms", "cold starts", "errors", "config"]
        rows = [["shipped", *_fmt(p["shipped"])], ["best", *_fmt(p["best"])]]
        if not p["feasible"]:
            rows.append(["closest", *_fmt(p["closest"])])
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
        for r in [head, *rows]:
            lines.append("  " + "  ".join(x.rjust(w) if i else x.ljust(w) for i, (x, w) in
                                          enumerate(zip(r[:-1], widths, strict=False))) + "  " + r[-1])
        if not p["feasible"]:
            lines.append(f"  no configuration meets the SLO: {', '.join(p['binding'])} binds; the closest is shown")
        if name == "lambda" and "arm64" in doc["inputs"]:
            lines.append(f"  {doc['inputs']['arm64']['text']}")
        lines.append("")
    lines.append("Verdict (each platform at its best feasible configuration): " + doc["verdict"]["text"])
    return "\n".join(lines)
