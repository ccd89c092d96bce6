"""PNG plots drawn from a results document (matplotlib, Agg backend: no display needed).

Each function returns the file name it wrote, or ``None`` when the run has no data for it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["draw_all"]

COLORS = {"lambda": "#d95f02", "lambda-wsgi": "#7570b3", "container": "#1b9e77"}


def _save(fig, folder: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return name


def _dress(ax, xlabel: str | None, ylabel: str, title: str, *, legend: bool = True, legend_loc: str = "best",
           **grid: str) -> None:
    """Labels, title, a small legend and a light grid (``grid``: matplotlib's ``which`` / ``axis``): every plot's dress."""
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend:
        ax.legend(loc=legend_loc, fontsize=8)
    ax.grid(alpha=0.3, **grid)


def latency_cdf(doc: dict, folder: Path) -> str | None:
    warm = doc["scenarios"].get("warm")
    if not warm:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, res in warm.items():
        samples = np.sort(np.asarray(res["samples_ms"], dtype=float))
        if samples.size == 0:
            continue
        y = np.arange(1, samples.size + 1) / samples.size
        ax.step(samples, y, where="post", color=COLORS.get(name), label=f"{name} (n={samples.size}, "
                f"median {res['latency']['median_ms']} ms, p99 {res['latency']['p99_ms']} ms)")
    ax.set_xscale("log")
    _dress(ax, "latency (ms, log scale)", "fraction of requests",
           "Warm latency CDF (sequential requests, kept-alive connection)", legend_loc="lower right", which="both")
    return _save(fig, folder, "latency_cdf.png")


def scalability(doc: dict, folder: Path) -> str | None:
    scal = doc["scenarios"].get("scalability")
    if not scal:
        return None
    slo = doc["run"]["settings"]["slo_ms"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    top = 0.0
    for name, res in scal.items():
        steps = res["rate_steps"]
        if not steps:
            continue
        offered = [s["offered_rps"] for s in steps]
        top = max(top, *offered)
        achieved = [s["achieved_rps"] for s in steps]
        p99 = [s["latency"]["p99_ms"] if s["latency"]["p99_ms"] is not None else np.nan for s in steps]
        bound = [s["generator"]["bottleneck"] for s in steps]
        color = COLORS.get(name)
        ax1.plot(offered, achieved, "o-", color=color, label=name)
        ax2.plot(offered, p99, "o-", color=color, label=f"{name} (knee {res['knee_rps']} rps)")
        for x, y, b in zip(offered, p99, bound, strict=True):
            if b:
                ax2.plot([x], [y], "x", color="black", markersize=9)
        if res["knee_rps"]:
            ax2.axvline(res["knee_rps"], color=color, linestyle=":", alpha=0.7)
    ax1.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="achieved = offered")
    _dress(ax1, "offered load (req/s, open loop)", "achieved throughput (req/s)", "Throughput vs offered load")
    ax2.axhline(slo, color="red", linestyle="--", linewidth=1, label=f"SLO {slo:g} ms")
    ax2.set_yscale("log")
    _dress(ax2, "offered load (req/s, open loop)", "p99 latency (ms, from intended send time)",
           "p99 vs offered load (x = generator-bound step)", which="both")
    return _save(fig, folder, "scalability.png")


def cold_start(doc: dict, folder: Path) -> str | None:
    cold = {n: r for n, r in doc["scenarios"].get("cold_start", {}).items() if not r.get("skipped") and r["samples"]}
    if not cold:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    labels, data = [], []
    for name, res in cold.items():
        labels.append(f"{name}\nfirst response\n(n={res['n_valid']})")
        data.append([s["first_response_ms"] for s in res["samples"]])
        inits = [s["init_ms"] for s in res["samples"] if s["init_ms"] is not None]
        if inits:
            labels.append(f"{name}\n{'ready' if name == 'container' else 'Init Duration'}\n(n={len(inits)})")
            data.append(inits)
    ax.boxplot(data, showfliers=False)
    for i, values in enumerate(data, start=1):
        jitter = np.random.default_rng(i).uniform(-0.08, 0.08, len(values))
        ax.plot(np.full(len(values), i) + jitter, values, "o", alpha=0.6, color="black", markersize=4)
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    _dress(ax, None, "ms", "Cold start: process/environment start to first answer", legend=False, axis="y")
    return _save(fig, folder, "cold_start.png")


def cost(doc: dict, folder: Path) -> str | None:
    section = doc.get("cost")
    if not section or section.get("skipped"):
        return None
    curve = section["curve"]
    x = np.asarray(curve["mean_rps"])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(x, curve["lambda_monthly_usd"], color=COLORS["lambda"], label="Lambda (+ HTTP API)")
    ax.plot(x, curve["eks_monthly_usd"], color=COLORS["container"], label="EKS (control plane + nodes + ALB)")
    ax.plot(x, curve["fargate_monthly_usd"], color="#7570b3", label="EKS on Fargate")
    # The two break-evens are often close: stagger their labels so they never overlap.
    marks = (("break_even_eks_rps", "break-even vs EKS", 0.95), ("break_even_fargate_rps", "break-even vs Fargate", 0.72))
    for key, label, height in marks:
        value = curve.get(key)
        if value:
            ax.axvline(value, color="black", linestyle=":", linewidth=1)
            ax.annotate(f"{label}\n{value:.1f} req/s", (value, ax.get_ylim()[1] * height), fontsize=8,
                        xytext=(4, 0), textcoords="offset points", va="top",
                        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    _dress(ax, f"mean request rate (req/s, {section['traffic_shape']} traffic)", "USD per month (us-east-1 list prices)",
           "Monthly cost vs request rate")
    return _save(fig, folder, "cost.png")


def burst(doc: dict, folder: Path) -> str | None:
    data = doc["scenarios"].get("burst")
    if not data:
        return None
    slo = doc["run"]["settings"]["slo_ms"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, res in data.items():
        rows = res["timeline"]["windows"]
        t = [r["t_s"] for r in rows]
        p99 = [r["p99_ms"] if r["p99_ms"] is not None else np.nan for r in rows]
        ax.plot(t, p99, "o-", color=COLORS.get(name), label=f"{name} (steady after {res['time_to_steady_s']} s)")
    ax.axhline(slo, color="red", linestyle="--", linewidth=1, label=f"SLO {slo:g} ms")
    ax.set_yscale("log")
    _dress(ax, "seconds since the burst started (by intended send time)", "p99 per window (ms)", "Burst from idle",
           which="both")
    return _save(fig, folder, "burst.png")


def draw_all(doc: dict, folder: Path) -> dict[str, str]:
    """Every plot the data allows; returns ``{kind: file name}``."""
    written = {}
    for kind, fn in (("latency_cdf", latency_cdf), ("scalability", scalability), ("cold_start", cold_start),
                     ("cost", cost), ("burst", burst)):
        name = fn(doc, folder)
        if name:
            written[kind] = name
    return written
