"""Render a simulation document: a text table for people and a timeline PNG.

Both read the JSON document (``SimulationResult.to_document()``), never the engine's
objects: results are data, and a report can be redrawn from a saved document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_timeline", "render_text"]


def _ms(v: Any) -> str:
    return "-" if v is None else f"{v:,.1f}"


def _cost_cell(p: dict[str, Any]) -> str:
    errors = int(p.get("throttled", 0)) + int(p.get("rejected", 0))
    cost = f"${p['cost_usd_per_month']:,.2f}"
    missed = p.get("slo") is not None and not p["slo"]["meets"]
    if missed or errors:
        return f"{cost}{'*' if missed else ''} ({errors:,} err)"
    return cost


def render_text(doc: dict[str, Any]) -> str:
    prof = doc["profile"]
    lines = [f"Simulated {prof['description'] or prof['name']}: {prof['minutes']:,} min, {prof['requests']:,} requests, "
             f"mean {prof['mean_rps']:,.2f} req/s, peak minute {prof['peak_minute_rps']:,.2f} req/s, "
             f"{prof['idle_minutes']:,} idle minutes  (seed {doc['seed']}, {doc['engine']['elapsed_s']:.1f} s)", ""]
    plats = doc["platforms"]
    header = f"  {'':<30}" + "".join(f"{name:>18}" for name in plats)
    lines.append(header)

    def row(label: str, fn: Any) -> None:
        lines.append(f"  {label:<30}" + "".join(f"{fn(p):>18}" for p in plats.values()))

    row("requests", lambda p: f"{p['requests']:,}")
    row("cold starts (fraction)", lambda p: f"{p['cold_starts']:,} ({p['cold_start_fraction'] * 100:.3g}%)")
    row("throttled 429 / rejected 503", lambda p: f"{p['throttled']:,} / {p['rejected']:,}")
    row("latency p50 / p99 ms", lambda p: f"{_ms(p['latency_ms']['p50'])} / {_ms(p['latency_ms']['p99'])}")
    row("latency p99.9 ms", lambda p: _ms(p["latency_ms"]["p999"]))
    row("max environments / replicas", lambda p: f"{max(p['max_environments'], p['max_replicas']):,}")
    row("max nodes", lambda p: f"{p['max_nodes']:,}" if p["max_nodes"] else "-")
    row("billed GB-s | node-hours", lambda p: f"{p['billed_gb_s']:,.0f}" if "billed_gb_s" in p
        else f"{p['node_seconds'] / 3600:,.1f}")
    if doc.get("slo"):
        slo = doc["slo"]
        row(f"p{slo['percentile']:g} ms (SLO {slo['latency_ms']:g})", lambda p: _ms(p.get("slo_latency_ms")))
        row("meets the SLO", lambda p: "yes" if p["slo"]["meets"] else "NO: " + "+".join(p["slo"]["binding"]))
    # A platform that misses the SLO or drops requests is cheap because it drops them: its errors
    # stand beside its cost, never a bare figure to rank.
    row("monthly cost (730 h)", _cost_cell)
    if any(p.get("slo") and not p["slo"]["meets"] for p in plats.values()):
        lines.append("  * misses the SLO: its cost is not comparable (it is cheap because it fails requests)")
    elif any(int(p.get("throttled", 0)) + int(p.get("rejected", 0)) for p in plats.values()):
        lines.append("  (err): requests not served beside the cost; give --slo-ms to judge them against a budget")
    fargate = plats.get("kubernetes", {}).get("fargate_cost", {}).get("total_usd")
    on_fargate = doc.get("parameters", {}).get("kubernetes", {}).get("provisioner") == "fargate"
    if on_fargate:
        lines.append("  Kubernetes on EKS Fargate: the cost is its pods at their Fargate size; 'nodes' are the "
                     "pods' own capacity, not billed")
    elif fargate is not None:
        lines.append(f"  the same pod-hours on EKS Fargate: ${fargate:,.2f}/month")
    for w in doc.get("warnings", []):
        lines.append(f"warning: {w}")
    for n in doc.get("inputs", {}).get("notes", []):
        lines.append(f"note: {n}")
    return "\n".join(lines)


def plot_timeline(doc: dict[str, Any], path: str | Path, counts: Any) -> Path:
    """Traffic, Lambda environments vs pods/nodes, and p99 per minute, stacked; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    minutes = np.arange(len(counts)) / 60.0
    fig, axes = plt.subplots(3, 1, figsize=(11, 8), sharex=True)
    axes[0].plot(minutes, np.asarray(counts) / 60.0, lw=0.8, color="black")
    axes[0].set_ylabel("req/s (minute mean)")
    axes[0].set_title(doc["profile"]["description"] or doc["profile"]["name"], fontsize=10)
    plats = doc["platforms"]
    if "lambda" in plats and "per_minute" in plats["lambda"]:
        axes[1].step(minutes, plats["lambda"]["per_minute"]["environments_max"], where="post", lw=0.8,
                     label="Lambda environments")
        axes[2].plot(minutes, [np.nan if v is None else v for v in plats["lambda"]["per_minute"]["latency_ms"]["p99"]],
                     lw=0.8, label="Lambda p99")
    if "kubernetes" in plats and "per_minute" in plats["kubernetes"]:
        pm = plats["kubernetes"]["per_minute"]
        axes[1].step(minutes, pm["replicas_max"], where="post", lw=0.8, label="pods (HPA replicas)")
        axes[1].step(minutes, pm["nodes_max"], where="post", lw=0.8, ls="--", label="nodes")
        axes[2].plot(minutes, [np.nan if v is None else v for v in pm["latency_ms"]["p99"]], lw=0.8,
                     label="Kubernetes p99")
    axes[1].set_ylabel("count (minute max)")
    axes[1].legend(fontsize=8)
    axes[2].set_ylabel("p99 latency, ms")
    axes[2].set_yscale("log")
    axes[2].legend(fontsize=8)
    axes[2].set_xlabel("hours")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
