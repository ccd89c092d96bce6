"""Steady, bursty and sparse traffic: simulated vs per-minute cold starts, autoscaled vs peak-sized cost.

``python -m twinbench.simulate.figures [--out-dir DIR] [--from results/<ts>] [--json]``

The Azure Functions 2019 trace is not reachable from this machine, so three functions are synthesised
in its format with the shapes measured on it (listed in docs/measurements.md), written to
``--out-dir`` and read back through the Azure reader: the figures come from exactly what
``--azure FILE --function HASH`` would simulate; a "x100" row replays bursty at 100x. Per-minute
model: the cost model's ``expected_cold_starts`` on the same counts. Peak-sized cost: the cost
model's EKS fleet all month; autoscaled: the simulated node-hours under k8s/base/hpa.yaml's HPA.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from twinserve.cli_parser import OneLineParser
from twinserve_support.paths import REPO  # noqa: E402

from twinbench.cli.arg_types import non_negative_int
from twinbench.simulate import engine, external, profiles
from twinbench.simulate.errors import SimulationError
from twinbench.simulate.hpa import load_hpa_spec
from twinbench.simulate.inputs import default_inputs, inputs_from_results
from twinbench.simulate.params import KubeParams, LambdaParams

HASHES = {"steady": "57eadyf0", "bursty": "b0257yf0", "sparse": "5pa75ef0"}


def synth_counts(kind: str, seed: int = 7) -> np.ndarray:
    """One day of per-minute counts with the named shape (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    if kind == "steady":
        # 15,000 a minute, 15,001 every 7th: at 12 ms the per-minute model's concurrency is
        # ceil(3.0) = 3 or ceil(3.0002) = 4, a "new" environment each time the 4th outlives its window
        return np.where(np.arange(1440) % 7 == 3, 15001, 15000).astype(np.int64)
    if kind == "sparse":
        counts = np.zeros(1440, dtype=np.int64)
        counts[rng.choice(1440, 150, replace=False)] = 1
        return counts
    if kind == "bursty":
        active = 1440 - 997
        counts = np.zeros(1440, dtype=np.int64)
        # bursts: clumps of 3-25 active minutes starting at random times
        minutes: list[int] = []
        while len(minutes) < active:
            start = int(rng.integers(0, 1440))
            length = int(rng.integers(3, 26))
            minutes.extend(m for m in range(start, min(1440, start + length)) if m not in minutes)
        chosen = np.array(sorted(minutes[:active]))
        sizes = rng.lognormal(0.0, 1.3, active)
        sizes = sizes / sizes.max() * 5880.0  # the peak minute ~98 req/s
        rest = 120_960 - 5880  # mean 1.4 req/s over the day
        others = np.argsort(sizes)[:-1]
        sizes[others] *= rest / sizes[others].sum()
        counts[chosen] = np.maximum(1, np.rint(sizes)).astype(np.int64)
        return counts
    raise ValueError(kind)


def write_azure_file(path: Path) -> Path:
    """The three synthetic functions as an Azure Functions 2019 per-minute trace."""
    header = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(i) for i in range(1, 1441))
    rows = [header]
    for kind, h in HASHES.items():
        rows.append(f"own{h},app{h},{h},{'timer' if kind == 'sparse' else 'http'},"
                    + ",".join(str(int(c)) for c in synth_counts(kind)))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def one_row(label: str, profile: profiles.MinuteCounts, inputs: Any, seed: int,
            lambda_ms: float | None = None) -> dict[str, Any]:
    """Simulate one profile; ``lambda_ms`` fixes the Lambda duration (the issue's 12-ms case)."""
    if lambda_ms is not None:
        from dataclasses import replace

        from twinbench.simulate.params import ServiceTime

        inputs = replace(inputs, lambda_duration=ServiceTime.constant("Lambda duration", lambda_ms))
    spec = load_hpa_spec(REPO / "k8s" / "base" / "hpa.yaml")
    lam = LambdaParams(memory_mb=inputs.memory_mb)
    kube = KubeParams(pod_capacity_rps=inputs.pod_capacity_rps)
    cfg = engine.SimulationConfig(profile, lam, kube, spec, inputs.lambda_duration, inputs.lambda_init,
                                  inputs.container_service, seed=seed, inputs=inputs.describe())
    res = engine.simulate(cfg)
    doc = res.to_document(per_minute=True)
    lam_r, k_r = doc["platforms"]["lambda"], doc["platforms"]["kubernetes"]
    billed = float(np.mean(np.ceil(inputs.lambda_duration.sorted_ms)))
    per_minute = external.per_minute_cold_starts(profile.counts, billed, lam.keep_alive_s)
    cold_pm = np.asarray(lam_r["per_minute"]["cold_starts"])
    prices = external.load_price_table()
    peak_usd, sizing = external.peak_sized_eks_usd(profile.counts, inputs.pod_capacity_rps, kube.instance_type,
                                                   spec.min_replicas, kube.min_nodes, prices)
    return {
        "profile": label, "requests_per_day": profile.total, "mean_rps": round(profile.mean_rps, 3),
        "peak_minute_rps": round(profile.peak_rps, 2), "idle_minutes": profile.idle_minutes,
        "cold_simulated": lam_r["cold_starts"], "cold_simulated_after_1h": int(cold_pm[60:].sum()),
        "cold_per_minute_model": round(per_minute, 1),
        "lambda_usd_month": round(lam_r["cost_usd_per_month"], 2),
        "lambda_p99_ms": lam_r["latency_ms"]["p99"], "kube_p99_ms": k_r["latency_ms"]["p99"],
        "eks_autoscaled_usd_month": round(k_r["cost_usd_per_month"], 2),
        "eks_peak_sized_usd_month": round(peak_usd, 2), "peak_sized_pods": sizing.get("pods"),
        "peak_sized_nodes": sizing.get("nodes"), "max_pods": k_r["max_replicas"], "max_nodes": k_r["max_nodes"],
        "rejected": k_r["rejected"], "throttled": lam_r["throttled"], "elapsed_s": doc["engine"]["elapsed_s"],
    }


def render(rows: list[dict[str, Any]]) -> str:
    head = (f"{'profile':<12}{'req/day':>12}{'mean rps':>9}{'peak':>8}{'idle min':>9}"
            f"{'cold sim':>10}{'(>1h)':>8}{'cold/min-model':>15}{'Lambda $':>10}"
            f"{'EKS autoscaled $':>17}{'EKS peak-sized $':>17}{'pods max/peak':>14}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['profile']:<12}{r['requests_per_day']:>12,}{r['mean_rps']:>9.3g}{r['peak_minute_rps']:>8.4g}"
                     f"{r['idle_minutes']:>9}{r['cold_simulated']:>10,}{r['cold_simulated_after_1h']:>8,}"
                     f"{r['cold_per_minute_model']:>15,.1f}{r['lambda_usd_month']:>10,.2f}"
                     f"{r['eks_autoscaled_usd_month']:>17,.2f}{r['eks_peak_sized_usd_month']:>17,.2f}"
                     f"{str(r['max_pods']) + '/' + str(r['peak_sized_pods']):>14}")
    lines.append("cold starts per simulated day (the per-minute model's figure is for the same day, repeated); "
                 "$ per 730-h month; pods: simulated max / the cost model's peak-sized fleet")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m twinbench.simulate.figures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", default="/tmp/twinbench-simulate", help="where the synthetic trace is written")
    parser.add_argument("--from", dest="results", help="make bench results folder for measured inputs")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed, >= 0 (default 0)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        trace = write_azure_file(out / "azure_synthetic_d01.csv")
        inputs = inputs_from_results(args.results) if args.results else default_inputs()
        rows = []
        for kind, h in HASHES.items():
            prof = profiles.from_azure_csv(trace, h)
            rows.append(one_row(kind, prof, inputs, args.seed))
            if kind == "steady":
                rows.append(one_row("steady 12ms", prof, inputs, args.seed, lambda_ms=12.0))
            if kind == "bursty":
                rows.append(one_row("bursty x100", prof.scaled_to_mean(prof.mean_rps * 100), inputs, args.seed))
            print(f"figures: {rows[-1]['profile']} done", file=sys.stderr)
    except (SimulationError, OSError) as exc:
        print(f"twinbench simulate figures: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=1) if args.json else render(rows))
    print(f"(synthetic Azure-format trace: {trace}; inputs: {inputs.source})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
