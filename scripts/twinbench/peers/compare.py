"""What the rounds add up to: medians and spreads over rounds, ratios against twinserve, each target PASS/FAIL, and the printed tables."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from twinbench.peers.servers import CONCURRENCIES, SWEEP_SLO_MS, TARGET_CONCURRENCY, UNSTABLE_SPREAD


def median_or_none(values: Sequence[float | None]) -> float | None:
    clean = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return round(statistics.median(clean), 3) if clean else None


def _spread(values: Sequence[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    if len(clean) < 2:
        return None
    med = statistics.median(clean)
    return round((max(clean) - min(clean)) / med, 3) if med else None


def median_summary(rounds: Sequence[dict[str, object]]) -> dict[str, object]:
    """Medians over rounds of one server's wrk steps at one concurrency: rps, p50, p99 (+ spread)."""
    keys = ("rps", "p50_ms", "p99_ms")
    out: dict[str, object] = {"n_rounds": len(rounds)}
    for key in keys:
        values = [r.get(key) for r in rounds]  # type: ignore[misc]
        out[key] = median_or_none(values)  # type: ignore[arg-type]
        out[f"{key}_spread"] = _spread(values)  # type: ignore[arg-type]
    out["errors"] = sum(sum((r.get("errors") or {}).values()) for r in rounds)  # type: ignore[union-attr]
    out["unstable"] = any((out[f"{k}_spread"] or 0) > UNSTABLE_SPREAD for k in ("rps", "p99_ms"))
    return out


@dataclass(frozen=True)
class RatioTarget:
    """``twinserve metric / peer metric`` compared with ``limit`` (``>=`` for rps, ``<=`` for p99)."""

    model: str
    peer: str
    metric: str  # "rps" or "p99_ms", at TARGET_CONCURRENCY
    op: str  # ">=" or "<="
    limit: float

    @property
    def text(self) -> str:
        what = "throughput" if self.metric == "rps" else "p99"
        return f"{what} c={TARGET_CONCURRENCY} twinserve/{self.peer} {self.op} {self.limit:g}x"


TARGETS: tuple[RatioTarget, ...] = (
    RatioTarget("rf", "naive", "rps", ">=", 3.0),
    RatioTarget("rf", "mlserver-batch", "rps", ">=", 3.0),
    RatioTarget("rf", "naive", "p99_ms", "<=", 0.5),
    RatioTarget("logreg", "naive", "rps", ">=", 1.5),
    RatioTarget("logreg", "naive", "p99_ms", "<=", 0.5),
)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return round(ours / theirs, 3)


def evaluate_targets(model: str, summary: dict[str, dict[int, dict[str, object]]],
                     targets: Sequence[RatioTarget] = TARGETS) -> list[dict[str, object]]:
    """PASS/FAIL of each target for ``model``; ``summary[server][concurrency]`` from :func:`median_summary`.

    A target whose peer was not measured (or whose number is missing) is ``MISSING``, never PASS.
    """
    out = []
    for target in targets:
        if target.model != model:
            continue
        ours = summary.get("twinserve", {}).get(TARGET_CONCURRENCY, {}).get(target.metric)
        theirs = summary.get(target.peer, {}).get(TARGET_CONCURRENCY, {}).get(target.metric)
        value = ratio(ours, theirs)  # type: ignore[arg-type]
        if value is None:
            verdict = "MISSING"
        elif target.op == ">=":
            verdict = "PASS" if value >= target.limit else "FAIL"
        else:
            verdict = "PASS" if value <= target.limit else "FAIL"
        out.append({"target": target.text, "model": model, "peer": target.peer, "metric": target.metric,
                    "op": target.op, "limit": target.limit, "twinserve": ours, "peer_value": theirs,
                    "ratio": value, "verdict": verdict})
    return out


# -------------------------------------------------------------------------------- rendering


def fmt_cell(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_table(model: str, summary: dict[str, dict[int, dict[str, object]]], servers: Sequence[str],
                 keep_alive: dict[str, object], verdicts: Sequence[dict[str, object]]) -> str:
    """The printed table for one model: per server rps / p50 / p99 at each concurrency, ratios, targets."""
    lines = [f"== {model}: medians of rounds (rps = 2xx answers/s; latency ms) =="]
    head = f"{'server':<15} {'keep-alive':<10}"
    for c in CONCURRENCIES:
        head += f" | c={c:<2} {'rps':>7} {'p50':>7} {'p99':>8}"
    head += " | rps vs twin | p99 vs twin"
    lines.append(head)
    lines.append("-" * len(head))
    twin = summary.get("twinserve", {}).get(TARGET_CONCURRENCY, {})
    for name in servers:
        row = summary.get(name, {})
        ka = keep_alive.get(name)
        line = f"{name:<15} {('yes' if ka else 'no' if ka is not None else '?'):<10}"
        unstable = False
        for c in CONCURRENCIES:
            cell = row.get(c, {})
            unstable = unstable or bool(cell.get("unstable"))
            line += (f" | {'':5}{fmt_cell(cell.get('rps')):>7} {fmt_cell(cell.get('p50_ms'), 2):>7}"
                     f" {fmt_cell(cell.get('p99_ms'), 2):>8}")
        peer = row.get(TARGET_CONCURRENCY, {})
        if name == "twinserve":
            line += f" | {'1':>11} | {'1':>11}"
        else:
            r_rps = ratio(twin.get("rps"), peer.get("rps"))  # type: ignore[arg-type]
            r_p99 = ratio(twin.get("p99_ms"), peer.get("p99_ms"))  # type: ignore[arg-type]
            line += f" | {fmt_cell(r_rps, 2) + 'x':>11} | {fmt_cell(r_p99, 3) + 'x':>11}"
        if unstable:
            line += "  (unstable: rounds differ > 20 %)"
        lines.append(line)
    lines.append(f"ratios at c={TARGET_CONCURRENCY}: 'rps vs twin' = twinserve rps / server rps (higher is "
                 "better for twinserve); 'p99 vs twin' = twinserve p99 / server p99 (lower is better)")
    for v in verdicts:
        lines.append(f"  [{v['verdict']}] {model}: {v['target']}  (measured {fmt_cell(v['ratio'], 3)}x: "
                     f"{fmt_cell(v['twinserve'], 2)} vs {fmt_cell(v['peer_value'], 2)})")
    return "\n".join(lines)


def render_sweep(model: str, sweeps: dict[str, list[dict[str, object]]]) -> str:
    """One line per server: the open-loop knee (highest sustained rate with p99 <= SWEEP_SLO_MS)."""
    lines = [f"-- {model}: open-loop sweep (aiohttp, latency from intended send; knee = highest rate with "
             f"p99 <= {SWEEP_SLO_MS:g} ms, errors <= 1 %, >= 90 % delivered; median over rounds) --"]
    for name, rounds in sweeps.items():
        knees = [r.get("knee_rps") for r in rounds]
        steps = rounds[-1].get("steps", []) if rounds else []
        detail = ", ".join(f"{s['offered_rps']:g}->{fmt_cell(s['achieved_rps'])} rps p99 {fmt_cell(s['p99_ms'])} ms"
                           f"{' [gen-bound]' if s.get('generator_bottleneck') else ''}"
                           for s in steps)  # type: ignore[index,union-attr]
        lines.append(f"{name:<15} knee {fmt_cell(median_or_none(knees), 0) if any(k is not None for k in knees) else '<lowest'}"
                     f" rps   (last round: {detail})")
    return "\n".join(lines)
