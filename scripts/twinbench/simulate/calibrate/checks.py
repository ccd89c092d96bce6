"""The calibration's comparison: each figure measured vs simulated, its tolerance (with the reason), the verdict.

What cannot be checked on one machine is listed in NOT_CHECKABLE and printed with every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from twinbench.simulate.calibrate.runs import Measurement
from twinbench.simulate.calibrate.simulated import Simulated


@dataclass(frozen=True)
class Tolerance:
    """Counts: |sim - measured| <= max(absolute, relative x measured). Latencies: ratio within a factor."""

    kind: str  # "count" or "factor"
    absolute: float = 0.0
    relative: float = 0.0
    factor: float = 1.0
    why: str = ""

    def accepts(self, measured: float, simulated: float) -> bool:
        if self.kind == "count":
            return abs(simulated - measured) <= max(self.absolute, self.relative * measured)
        if measured <= 0 or simulated <= 0:
            return measured == simulated
        ratio = simulated / measured
        return 1.0 / self.factor <= ratio <= self.factor

    def text(self) -> str:
        if self.kind == "count":
            return f"±max({self.absolute:g}, {self.relative:.0%})"
        return f"×/÷{self.factor:g}"


TOLERANCES: dict[str, Tolerance] = {
    "lambda.cold_starts": Tolerance(
        "count", 2, 0.20, why="the emulator reaps on a timer (every min(1 s, idle/4)), so an environment lives "
        "keep-alive..keep-alive+1 s idle against exactly keep-alive in the model; INIT under 2 shared cores "
        "varies with how many start at once, which moves how many onset arrivals land inside it"),
    "lambda.throttled": Tolerance(
        "count", 3, 0.25, why="429s happen only while every environment is busy or in INIT: a few arrivals "
        "either side of an INIT's end decide them, and INIT's end is timed to scheduler noise"),
    "lambda.p50": Tolerance(
        "factor", factor=1.5, why="warm holds and the overhead around them are inputs (per segment, from the "
        "same replay), so the median checks which answers are served: spike answers take 2-5x a quiet burst's on shared cores, "
        "and which spike requests get a 429 differs within the 429 tolerance, which moves the median"),
    "lambda.p99": Tolerance(
        "factor", factor=1.5, why="p99 falls among the cold answers (INIT + duration); with the same INITs "
        "it moves with the cold-start count (±20 %) and the emulator's per-request overhead under load"),
    "container.rejected": Tolerance(
        "count", 2, 0.20, why="gunicorn's backlog (2,048) is never reached at these rates; any failure in "
        "either is a defect, two allowed for a client-side timeout under scheduling stalls"),
    "container.p50": Tolerance(
        "factor", factor=1.5, why="the model stretches every service time so two workers saturate at the "
        "measured capacity (a pod shares one CPU), which lengthens lone requests too"),
    "container.p99": Tolerance(
        "factor", factor=2.0, why="the tail is the service-time tail plus the spike's queueing (the pod at "
        "10-40 % of its capacity here); 2 shared cores add scheduling stalls (the generator, gunicorn's "
        "master, other work) that the FIFO model does not have, and p99 of ~400 answers rests on 4-5 of them"),
}

NOT_CHECKABLE = (
    "AWS's real keep-alive (unpublished; the model's default 300 s is an assumption, here both sides use the "
    "same short keep-alive, which checks the mechanics, not the value)",
    "the scaling rate of 1,000 new environments per 10 s and the account limit of 1,000: a 2-core machine "
    "cannot start more than a few environments at once",
    "the HPA on a real cluster (metrics-server lag, the 15-s sync, stabilisation): one pod here, no control loop",
    "node provisioning, image pulls and pod start-up on a cluster (cluster-autoscaler/Karpenter delays)",
    "AWS's own INIT durations and network latency (local processes, loopback)",
    "queueing at a saturated pod: a Python open-loop generator on 2 shared cores cannot send the ~1,000-2,000 "
    "req/s one pod serves without becoming the bottleneck, so the spike stays at 200 req/s",
    "Lambda's periodic recycling of environments after hours (runs are minutes long)",
)


@dataclass
class Check:
    key: str
    label: str
    measured: float | None
    simulated: float | None
    tolerance: Tolerance | None
    measured_source: str
    simulated_source: str
    ok: bool | None  # None: informational, not asserted

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "measured": self.measured, "simulated": self.simulated,
                "tolerance": self.tolerance.text() if self.tolerance else None,
                "why": self.tolerance.why if self.tolerance else None, "measured_source": self.measured_source,
                "simulated_source": self.simulated_source, "ok": self.ok}


def _pct(values: np.ndarray, q: float) -> float | None:
    from twinbench.measure.stats import summarize

    if values.size == 0:
        return None
    return summarize([float(v) for v in values])[f"p{q}_ms"]  # type: ignore[return-value]


def _check(key: str, label: str, measured: float | None, simulated: float | None, msrc: str, ssrc: str,
           tolerances: dict[str, Tolerance]) -> Check:
    tol = tolerances.get(key)
    ok = None
    if tol is not None:
        ok = measured is not None and simulated is not None and tol.accepts(measured, simulated)
    return Check(key, label, measured, simulated, tol, msrc, ssrc, ok)


def compare(m: Measurement, s: Simulated, tolerances: dict[str, Tolerance] | None = None) -> list[Check]:
    """One row per figure: measured locally vs simulated, with the tolerance and the verdict."""
    tol = TOLERANCES if tolerances is None else tolerances
    rows: list[Check] = []
    client = "measured: open-loop client"
    if m.lambda_run is not None and s.lambda_out is not None:
        run, out = m.lambda_run, s.lambda_out
        sim_src = "simulated: lambda_sim on the arrivals the pool saw"
        rows.append(_check("lambda.requests", "Lambda requests", run.latency_ms.size, out.latency_ms.size,
                           "schedule", "schedule", tol))
        # Every environment start has a REPORT line with an Init Duration, also when its request then
        # failed (no cold header comes back from a 502): that count is the one asserted.
        rows.append(_check("lambda.cold_starts", "Lambda cold starts (REPORT Init Duration)",
                           int(run.info["report_cold_starts"]), int(out.cold.sum()), "measured: emulator REPORT lines",
                           sim_src, tol))
        rows.append(_check("lambda.cold_starts_header", "Lambda cold answers (x-twinserve-cold: true)",
                           int(np.count_nonzero(run.ok & (run.cold == 1))), int(np.count_nonzero(out.cold)),
                           client, sim_src, {}))
        failures = int(np.count_nonzero(~run.ok & (run.status != 429)))
        rows.append(_check("lambda.failed", "Lambda failed answers (5xx, no answer)", failures, 0, client,
                           "the model has no failures", {}))
        matched = int(np.count_nonzero((run.cold == 1) & out.cold))
        rows.append(_check("lambda.cold_same_request", "Lambda cold starts on the same request", matched,
                           int(out.cold.sum()), "measured ∩ simulated", sim_src, {}))
        rows.append(_check("lambda.throttled", "Lambda throttled (429)", int(np.count_nonzero(run.status == 429)),
                           int(np.count_nonzero(out.latency_ms < 0)), client, sim_src, tol))
        rows.append(_check("lambda.peak_environments", "Lambda peak environments",
                           run.info["emulator"].get("peak_environments"), out.result["max_environments"],
                           "measured: emulator counters", sim_src, {}))
        served = out.latency_ms[out.latency_ms >= 0]
        if s.lambda_random_init is not None:
            rnd = s.lambda_random_init
            rows.append(_check("lambda.cold_starts_random_init", "Lambda cold starts, INIT drawn at random",
                               int(run.info["report_cold_starts"]), int(rnd.cold.sum()), client, sim_src + ", random INIT", {}))
            rows.append(_check("lambda.p99_random_init", "Lambda p99 (ms), INIT drawn at random",
                               _pct(run.latency_ms[run.ok], 99), _pct(rnd.latency_ms[rnd.latency_ms >= 0], 99),
                               client, sim_src + ", random INIT", {}))
        for q in (50, 99):
            rows.append(_check(f"lambda.p{q}", f"Lambda p{q} latency (ms)", _pct(run.latency_ms[run.ok], q),
                               _pct(served, q), client, sim_src, tol))
    if m.container_run is not None and s.container_out is not None:
        run, out = m.container_run, s.container_out
        sim_src = "simulated: kube_sim (1 pod) on the same arrivals"
        rows.append(_check("container.rejected", "Container failed/rejected", int(np.count_nonzero(~run.ok)),
                           int(np.count_nonzero(out.latency_ms < 0)), client, sim_src, tol))
        served = out.latency_ms[out.latency_ms >= 0]
        for q in (50, 99):
            rows.append(_check(f"container.p{q}", f"Container p{q} latency (ms)", _pct(run.latency_ms[run.ok], q),
                               _pct(served, q), client, sim_src, tol))
    return rows
