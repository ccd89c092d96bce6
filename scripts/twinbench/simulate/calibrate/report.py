"""The calibration's report: the checks with their sources, busy-machine warnings, the JSON document and
the text table; and :func:`calibrate`, which runs schedule, measurement, simulation and comparison."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from twinbench.results.jsonable import jsonable
from twinbench.simulate.calibrate.checks import NOT_CHECKABLE, TOLERANCES, Check, compare
from twinbench.simulate.calibrate.measure import measure
from twinbench.simulate.calibrate.runs import RAW_DIGITS, Measurement
from twinbench.simulate.calibrate.schedule import FULL, SHORT, CalibrationError, bursty_schedule
from twinbench.simulate.calibrate.simulated import Simulated, simulate_measurement

BUSY_SEND_LAG_MS = 20.0
"""p99 send lag that makes a run inconclusive: 4x a warm answer's ~5 ms. Below it the lag (which is
inside every measured latency, since latency counts from the intended send) stays within the
latency tolerances; a spike with INITs running on 2 cores routinely costs the generator 5-10 ms."""

FORMAT = "twinbench.calibration"
VERSION = 1


def _steal_text(environment: dict[str, Any]) -> str:
    shares = environment.get("steal_share") or {}
    return "".join(f", steal {share:.0%} ({name})" for name, share in shares.items())


@dataclass
class CalibrationReport:
    measurement: Measurement
    simulated: Simulated
    checks: list[Check]
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    def busy_reasons(self) -> list[str]:
        """Why the measurement may describe the machine rather than the stack: a starved load
        generator (p99 send lag >= BUSY_SEND_LAG_MS), a run queue over twice the cores, or the
        hypervisor's steal over STEAL_SHARE_WARN of the CPUs during a replay. A disagreement on a
        busy machine is inconclusive, not a verdict."""
        from twinbench.measure.other_work import STEAL_SHARE_WARN

        m = self.measurement
        reasons = []
        for name, share in (m.environment.get("steal_share") or {}).items():
            if share > STEAL_SHARE_WARN:
                reasons.append(f"the hypervisor took {share:.0%} of the CPUs (steal) during the {name} replay")
        for run in (m.lambda_run, m.container_run):
            if run is not None and run.generator.get("send_lag_p99_ms", 0.0) >= BUSY_SEND_LAG_MS:
                reasons.append(f"the load generator sent late against {run.name} "
                               f"(p99 send lag {run.generator['send_lag_p99_ms']:.1f} ms)")
        load, cpus = m.environment.get("load_average"), m.environment.get("cpus") or 1
        if load and load[0] > 2 * cpus:
            reasons.append(f"load average {load[0]:g} on {cpus} CPUs")
        return reasons

    def to_document(self, raw: bool = True) -> dict[str, Any]:
        m = self.measurement
        doc: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "ok": self.ok, "elapsed_s": round(self.elapsed_s, 1),
            "busy": self.busy_reasons(), "environment": m.environment, "schedule": m.schedule.describe(),
            "checks": [c.to_dict() for c in self.checks],
            "simulation_parameters": jsonable(self.simulated.parameters, RAW_DIGITS),
            "targets": {}, "not_checkable": list(NOT_CHECKABLE),
        }
        for run in (m.lambda_run, m.container_run):
            if run is not None:
                doc["targets"][run.name] = run.to_dict() if raw else {"info": jsonable(run.info, RAW_DIGITS),
                                                                       "errors": run.errors,
                                                                       "generator": run.generator}
        if raw:
            doc["schedule"]["arrivals_s"] = [round(float(v), 6) for v in m.schedule.arrivals_s]
        return doc

    def render_text(self) -> str:
        m = self.measurement
        sch = m.schedule
        load = m.environment.get("load_average")
        sim_keep = (self.simulated.parameters.get("lambda") or {}).get("keep_alive_s", sch.keep_alive_s)
        keep = (f"keep-alive {sch.keep_alive_s:g} s on both sides" if sim_keep == sch.keep_alive_s else
                f"keep-alive {sch.keep_alive_s:g} s in the emulator but {sim_keep:g} s in the model (deliberately wrong)")
        lines = [f"calibration: {sch.arrivals_s.size} requests over {sch.duration_s:.0f} s (seed {sch.seed}), "
                 f"{keep}; {m.environment['cpus']} CPUs"
                 f"{f', load {load[0]:g}' if load else ''}{_steal_text(m.environment)}, {m.environment['date_utc']}, "
                 f"{self.elapsed_s:.0f} s wall", ""]
        head = f"{'figure':<44} {'measured':>10} {'simulated':>10}  {'tolerance':<14} {'verdict':<8}"
        lines += [head, "-" * len(head)]

        def fmt(v: float | None) -> str:
            if v is None:
                return "-"
            return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"

        for c in self.checks:
            verdict = "info" if c.ok is None else ("ok" if c.ok else "DIFFERS")
            lines.append(f"{c.label:<44} {fmt(c.measured):>10} {fmt(c.simulated):>10}  "
                         f"{c.tolerance.text() if c.tolerance else '':<14} {verdict:<8}")
        lines += ["", "where the figures come from:",
                  "  measured  = replayed open-loop on this machine (latency from the intended send time, 2xx only);",
                  "              Lambda: the local Lambda (awslambdaric processes), x-twinserve-cold and REPORT lines;",
                  "              container: gunicorn under the pod limits, 1 pod",
                  *(f"              requests: {src}" for src in _payload_sources(m)),
                  "  simulated = the simulator on the same arrivals (simulate/replay.py), inputs from the same run:"]
        p = self.simulated.parameters
        if "lambda" in p:
            lam = p["lambda"]
            lines.append(f"              Lambda duration {lam['duration']['source']} (n={lam['duration']['n']}, "
                         f"p50 {lam['duration']['p50_ms']:.1f} ms), INIT {lam['init']['source']} "
                         f"(n={lam['init']['n']}, p50 {lam['init']['p50_ms']:.0f} ms, {lam['init_order']}),")
            lines.append(f"              Lambda arrivals {lam['arrivals']}")
        if "kubernetes" in p:
            k = p["kubernetes"]
            lines.append(f"              pod: {k['workers']} workers, capacity {k['pod_capacity_rps']:g} req/s "
                         f"(best of 2 closed-loop probes), service {k['service']['source']} (p50 {k['service']['p50_ms']:.2f} ms), "
                         f"stretch x{k['service_stretch']:g}")
        lines += ["", "tolerances:"]
        lines += [f"  {key}: {t.text()} - {t.why}" for key, t in TOLERANCES.items()]
        busy = self.busy_reasons()
        if busy:
            lines.append("warning: the machine was busy (" + "; ".join(busy) + "): measured figures include "
                         "other work's scheduling delays, a disagreement is inconclusive")
        lines += ["", "cannot be checked here:"] + [f"  - {x}" for x in NOT_CHECKABLE]
        failed = self.failed()
        if not failed:
            verdict = "verdict: the simulator agrees with the local stack within every tolerance"
        else:
            verdict = ("verdict: INCONCLUSIVE (busy machine), differs on " if busy else "verdict: DISAGREES on ") \
                + ", ".join(c.key for c in failed)
        lines += ["", verdict]
        return "\n".join(lines)


def _payload_sources(m: Measurement) -> list[str]:
    """What each target was sent (the model's registered rows, round-robin), once if both agree."""
    sources = [run.info["payloads"] for run in (m.lambda_run, m.container_run) if run and "payloads" in run.info]
    return sorted(set(sources))


def calibrate(short: bool = False, seed: int = 7, concurrency: int = 8, keep_alive_s: float | None = None,
              sim_keep_alive_s: float | None = None, targets: tuple[str, ...] = ("lambda", "container"),
              progress: Any = None) -> CalibrationReport:
    """Schedule, measure, simulate, compare. Raises CalibrationError (missing prerequisites)."""
    started = time.perf_counter()
    if not 1 <= concurrency <= 64:
        raise CalibrationError(f"concurrency must be within 1..64, got {concurrency}")
    shape = dict(SHORT if short else FULL)
    if keep_alive_s is not None:
        shape["keep_alive_s"] = keep_alive_s
    schedule = bursty_schedule(seed=seed, **shape)
    m = measure(schedule, concurrency, targets, progress)
    s = simulate_measurement(m, concurrency, sim_keep_alive_s, seed)
    return CalibrationReport(m, s, compare(m, s), time.perf_counter() - started)
