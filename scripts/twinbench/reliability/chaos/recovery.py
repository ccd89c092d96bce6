"""Recovery analysis: from the outcomes of one fault step, what failed and when the target was back to its pre-fault p99 and throughput."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twinbench.measure.loadgen import Outcome, status_counts
from twinbench.measure.stats import summarize
from twinbench.reliability.chaos.settings import (
    BIN_S,
    P99_FACTOR,
    P99_SLACK_MS,
    RECOVERED_BINS,
    SENT_GRACE_S,
    THROUGHPUT_FRACTION,
)


def sent_s(o: Outcome) -> float:
    return o.done_s - o.service_ms / 1000.0


def intended_s(o: Outcome) -> float:
    return o.done_s - o.latency_ms / 1000.0


def recovery(outcomes: list[Outcome], t_fault_s: float, end_s: float, baseline_p99_ms: float | None,
             baseline_rps: float | None) -> dict[str, Any]:
    """When the stream was back to its pre-fault p99 and throughput after ``t_fault_s``.

    1-s bins from the fault to ``end_s`` (the last intended send): a bin is good with no failed
    request sent in it, p99 (of the requests sent in it, latency from the intended send) within
    ``P99_FACTOR`` x baseline + ``P99_SLACK_MS``, and at least ``THROUGHPUT_FRACTION`` of the
    baseline throughput completed in it. Recovered at the first of ``RECOVERED_BINS`` good bins in
    a row after the last bin with a failure; ``recovery_s`` is that bin's start minus the fault
    (0: never disturbed), ``None``: not within the window.
    """
    if baseline_p99_ms is None or not baseline_rps:
        return {"recovery_s": None, "bins": [], "note": "no baseline"}
    p99_limit = baseline_p99_ms * P99_FACTOR + P99_SLACK_MS
    count = max(1, int((end_s - t_fault_s) // BIN_S))
    sent_in: list[list[Outcome]] = [[] for _ in range(count)]
    done_ok = [0] * count
    for o in outcomes:
        i = int((intended_s(o) - t_fault_s) // BIN_S)
        if 0 <= i < count:
            sent_in[i].append(o)
        j = int((o.done_s - t_fault_s) // BIN_S)
        if o.ok and 0 <= j < count:
            done_ok[j] += 1
    bins = []
    for i in range(count):
        ok = [o.latency_ms for o in sent_in[i] if o.ok]
        p99 = summarize(ok).get("p99_ms") if ok else None
        errors = len(sent_in[i]) - len(ok)
        rps = done_ok[i] / BIN_S
        good = (errors == 0 and p99 is not None and p99 <= p99_limit and rps >= THROUGHPUT_FRACTION * baseline_rps)
        bins.append({"start_s": round(i * BIN_S, 2), "sent": len(sent_in[i]), "errors": errors,
                     "p99_ms": p99, "completed_rps": rps, "good": good})
    # Not before the last bin with a failed request: a target that still answers for a while after
    # the fault (a killed master's workers) and then fails has not recovered in between.
    last_error = max((i for i, b in enumerate(bins) if b["errors"]), default=-1)
    recovered = None
    for i in range(last_error + 1, count - RECOVERED_BINS + 1):
        if all(b["good"] for b in bins[i:i + RECOVERED_BINS]):
            recovered = round(i * BIN_S, 2)
            break
    return {"recovery_s": recovered, "p99_limit_ms": round(p99_limit, 3),
            "throughput_limit_rps": round(THROUGHPUT_FRACTION * baseline_rps, 1), "bins": bins}


def analyse(outcomes: list[Outcome], t_fault_s: float, duration_s: float) -> dict[str, Any]:
    """The figures of one fault step: baseline, the fault window, which failures were in flight."""
    # Baseline: sent after the first second and answered before the fault. The window: every
    # request not finished when the fault came (those in flight at it, and all sent after).
    baseline = [o for o in outcomes if intended_s(o) >= 1.0 and o.done_s < t_fault_s]
    base_ok = [o for o in baseline if o.ok]
    base_p99 = summarize([o.latency_ms for o in base_ok]).get("p99_ms") if base_ok else None
    span = t_fault_s - 1.0
    base_rps = len([o for o in outcomes if o.ok and 1.0 <= o.done_s < t_fault_s]) / span if span > 0 else None
    window = [o for o in outcomes if o.done_s >= t_fault_s]
    failed = [o for o in window if not o.ok]
    in_flight = [o for o in outcomes if sent_s(o) <= t_fault_s <= o.done_s]
    before_window_failed = [o for o in baseline if not o.ok]
    rec = recovery(outcomes, t_fault_s, duration_s, base_p99, base_rps)
    return {
        "t_fault_s": round(t_fault_s, 3),
        "baseline": {"sent": len(baseline), "errors": len(before_window_failed), "p99_ms": base_p99,
                     "throughput_rps": round(base_rps, 1) if base_rps is not None else None},
        "sent": len(window),
        "failed": len(failed),
        "failed_by_status": status_counts(failed),
        "in_flight_at_fault": len(in_flight),
        "failed_in_flight_at_fault": sum(1 for o in failed if sent_s(o) <= t_fault_s + SENT_GRACE_S),
        "failed_sent_s": sorted(round(sent_s(o) - t_fault_s, 3) for o in failed)[:200],
        "latency_window": summarize([o.latency_ms for o in window if o.ok]),
        "recovery_s": rec["recovery_s"],
        "recovery": rec,
    }

def status_counts_of(statuses: Iterable[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in statuses:
        counts[str(s)] = counts.get(str(s), 0) + 1
    return counts
