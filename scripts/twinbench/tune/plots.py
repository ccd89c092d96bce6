"""Duration and cost against memory, Power Tuning's chart, drawn from a ``twinbench.tune`` document.

matplotlib with the Agg backend (no display), as :mod:`twinbench.report.plots` draws the bench's
figures. Returns the file name written, or ``None`` when no size has warm figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["FIGURE_NAME", "duration_and_cost"]

FIGURE_NAME = "tune_duration_cost.png"
DURATION_COLOR = "#1f77b4"
COST_COLOR = "#d95f02"
INIT_COLOR = "#7570b3"


def duration_and_cost(doc: dict[str, Any], folder: Path) -> str | None:
    """Left: warm billed duration (trimmed mean, p90 bar) and cost per million against memory.
    Right: cold init (median, min..max) against memory. Picks marked."""
    sizes = [s for s in doc["sizes"] if s.get("cost")]
    if not sizes:
        return None
    memory = [s["memory_mb"] for s in sizes]
    duration = [s["warm"]["average_billed_ms"] for s in sizes]
    p90 = [s["warm"]["billed_ms"]["p90"] for s in sizes]
    cost = [s["cost"]["per_million_usd"] for s in sizes]
    fig, (ax, ax_init) = plt.subplots(1, 2, figsize=(11.5, 4.4))
    ax.plot(memory, duration, "o-", color=DURATION_COLOR, label="warm billed duration (trimmed mean)")
    ax.vlines(memory, duration, p90, color=DURATION_COLOR, alpha=0.4, label="up to p90")
    ax.set_xscale("log", base=2)
    ax.set_xticks(memory, [str(m) for m in memory])
    ax.minorticks_off()
    ax.set_xlabel("memory (MB)")
    ax.set_ylabel("billed duration (ms)", color=DURATION_COLOR)
    ax.grid(True, alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(memory, cost, "s--", color=COST_COLOR, label="USD per million invocations")
    ax2.set_ylabel("USD per million invocations", color=COST_COLOR)
    top = max([*duration, *(v for v in p90 if v is not None)])
    ax.set_ylim(0, top * 1.25 if top > 0 else 1.0)
    ax2.set_ylim(0, max(cost) * 1.25 if max(cost) > 0 else 1.0)
    picks = doc.get("picks") or {}
    by_size: dict[int, list[str]] = {}
    for name in ("cost", "speed", "balanced"):
        if picks.get(name):
            by_size.setdefault(picks[name]["memory_mb"], []).append(name)
    for memory_mb, names in by_size.items():
        p = picks[names[0]]
        ax2.annotate(" + ".join(names), (memory_mb, p["cost_usd"] * 1e6), textcoords="offset points", xytext=(0, 10),
                     ha="center", fontsize=8, fontweight="bold")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left", fontsize=7, framealpha=0.85)
    settings = doc["run"]["settings"]
    ax.set_title(f"Warm duration and cost vs memory ({settings['mode']}, {settings['architecture']}; "
                 "picks labelled)", fontsize=9)

    cold = [s for s in doc["sizes"] if s["cold"]["n"]]
    if cold:
        cm = [s["memory_mb"] for s in cold]
        med = [s["cold"]["init_ms"]["p50"] for s in cold]
        low = [m - s["cold"]["init_ms"]["min"] for m, s in zip(med, cold, strict=True)]
        high = [s["cold"]["init_ms"]["max"] - m for m, s in zip(med, cold, strict=True)]
        ax_init.errorbar(cm, med, yerr=[low, high], fmt="o-", color=INIT_COLOR, capsize=3,
                         label="Init Duration: median, min..max")
        ax_init.set_xscale("log", base=2)
        ax_init.set_xticks(cm, [str(m) for m in cm])
        ax_init.minorticks_off()
        ax_init.set_ylim(bottom=0)
        ax_init.legend(fontsize=8)
    ax_init.set_xlabel("memory (MB)")
    ax_init.set_ylabel("cold init (ms)")
    ax_init.set_title("Cold init vs memory (forced cold starts)", fontsize=9)
    ax_init.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / FIGURE_NAME, dpi=110)
    plt.close(fig)
    return FIGURE_NAME
