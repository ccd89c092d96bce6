"""Cost vs latency at the SLO's percentile for every simulated candidate, per platform."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twinbench.recommend.document import NAMES, pareto
from twinbench.recommend.search import PlatformSearch

__all__ = ["plot_pareto"]


def plot_pareto(doc: dict[str, Any], searches: dict[str, PlatformSearch], path: str | Path) -> Path:
    """One panel per platform: feasible (filled) and infeasible (hollow) candidates, the Pareto front,
    the SLO line, the best and the shipped configuration marked. Figures: simulated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slo = doc["slo"]
    fig, axes = plt.subplots(1, len(searches), figsize=(6 * len(searches), 4.5), squeeze=False)
    for ax, (name, s) in zip(axes[0], searches.items(), strict=True):
        pts = [c for c in s.evaluated if c.slo_latency_ms is not None]
        ok = [c for c in pts if c.feasible]
        bad = [c for c in pts if not c.feasible]
        ax.scatter([c.slo_latency_ms for c in bad], [c.cost_usd_per_month for c in bad], facecolors="none",
                   edgecolors="tab:red", s=18, label="misses the SLO")
        ax.scatter([c.slo_latency_ms for c in ok], [c.cost_usd_per_month for c in ok], color="tab:blue", s=18,
                   label="meets the SLO")
        front = pareto(pts)
        ax.plot([c.slo_latency_ms for c in front], [c.cost_usd_per_month for c in front], color="gray", lw=0.8,
                label="Pareto front")
        p = doc["platforms"][name]
        for key, marker in (("shipped", "s"), ("best", "*")):
            c = p.get(key)
            if c and c["latency_ms"]["at_slo_percentile"] is not None:
                ax.scatter([c["latency_ms"]["at_slo_percentile"]], [c["cost_usd_per_month"]], marker=marker, s=120,
                           color="black" if key == "shipped" else "gold", edgecolors="black", zorder=5, label=key)
        ax.axvline(slo["latency_ms"], color="tab:red", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel(f"p{slo['percentile']:g} latency, ms (simulated)")
        ax.set_ylabel("USD per month (simulated)")
        ax.set_title(f"{NAMES[name]}: {len(s.evaluated)} configurations", fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(f"{doc['profile'].get('name')}: cost vs latency, SLO p{slo['percentile']:g} <= "
                 f"{slo['latency_ms']:g} ms ({doc['created'][:10]})", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
