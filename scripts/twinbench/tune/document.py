"""The ``twinbench.tune`` document: per-size summaries and raw samples, costs, picks, generators.

Built from the :class:`~twinbench.tune.observations.SizeRun` list only (results are data: the
table, the report and the figure are rendered from this document, never the other way round).
Schema: ``results/schemas/tune.schema.json``; history: ``results/FORMATS.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twinbench.cost.prices import load_prices
from twinbench.measure.stats import distribution, relative_ci_width, summarize
from twinbench.results.documents import TuneResults
from twinbench.tune import strategies
from twinbench.tune.cpu_share import AWS_SOURCE, share_for
from twinbench.tune.observations import SizeRun
from twinbench.tune.pricing import FREE_TIER_NOTE, price_size

__all__ = ["TuneResults", "TuneSettings", "build_payload"]

UNSTABLE_CI_WIDTH = 0.2
BUSY_GENERATOR_CORES = 0.5


@dataclass(frozen=True)
class TuneSettings:
    """The run's choices, as recorded in ``run.settings``."""

    mode: str
    profile: dict[str, Any]
    memory_mb: tuple[int, ...]
    rps: float
    balanced_weight: float
    discard_top_bottom: float
    architecture: str
    keep_alive_s: float
    gap_ms: float
    target: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "profile": self.profile, "memory_mb": list(self.memory_mb), "rps": self.rps,
                "balanced_weight": self.balanced_weight, "discard_top_bottom": self.discard_top_bottom,
                "architecture": self.architecture, "keep_alive_s": self.keep_alive_s, "gap_ms": self.gap_ms,
                "target": self.target}


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _dist(values: Sequence[float]) -> dict[str, Any]:
    return {k: (_r(v) if isinstance(v, float) else v) for k, v in distribution(values).items()}


def _size_record(run: SizeRun, settings: TuneSettings, warnings: list[str]) -> dict[str, Any]:
    share = share_for(run.memory_mb)
    inits = [c.init_duration_ms for c in run.cold if c.init_duration_ms is not None]
    restores = [c.restore_duration_ms for c in run.cold if c.restore_duration_ms is not None]
    cold_billed = [float(c.billed_duration_ms) for c in run.cold if c.billed_duration_ms is not None]
    warm: dict[str, Any] = {"n": len(run.warm_billed_ms), "warmup_discarded": run.warmup_discarded,
                            "billed_ms": _dist([float(b) for b in run.warm_billed_ms]),
                            "duration_ms": summarize(run.warm_duration_ms),
                            "average_billed_ms": None}
    cost = None
    label = f"{run.memory_mb} MB"
    if run.warm_billed_ms:
        average = strategies.trimmed_mean([float(b) for b in run.warm_billed_ms], settings.discard_top_bottom)
        warm["average_billed_ms"] = _r(average)
        init_for_cost = float(distribution(inits)["p50"] or 0.0) if inits else 0.0
        priced = price_size(run.memory_mb, average, architecture=settings.architecture, rps=settings.rps,
                            init_duration_ms=init_for_cost, keep_alive_s=settings.keep_alive_s)
        cost = {"per_invocation_usd": priced.per_invocation_usd, "per_million_usd": _r(priced.per_million_usd, 6),
                "monthly_usd": _r(priced.monthly_usd, 4), "monthly_init_usd": _r(priced.monthly_init_usd, 4),
                "cold_starts_per_month": _r(priced.cold_starts_per_month, 1),
                "init_duration_ms_priced": _r(init_for_cost)}
        width = relative_ci_width(warm["duration_ms"])
        if width is not None and width > UNSTABLE_CI_WIDTH:
            warnings.append(f"{label}: warm duration unstable (95 % CI of the median spans {width:.0%} of it)")
    else:
        warnings.append(f"{label}: no successful warm invocation with a REPORT line: left out of the picks")
    if not inits and not restores:
        warnings.append(f"{label}: no confirmed cold start")
    if run.failures:
        warnings.append(f"{label}: failed invocations {run.failures}")
    if run.misclassified_cold:
        warnings.append(f"{label}: {run.misclassified_cold} forced cold start(s) came back warm: dropped")
    if run.unexpected_cold:
        warnings.append(f"{label}: {run.unexpected_cold} warm-phase invocation(s) started a new environment: dropped")
    if run.missing_reports:
        warnings.append(f"{label}: {run.missing_reports} invocation(s) without a REPORT line")
    if run.cpu_quota.get("cpu_quota_applied") is False:
        warnings.append(f"{label}: CPU quota NOT applied ({run.cpu_quota.get('detail')}): "
                        "the function could use every core, so the sizes are not told apart")
    for phase, figures in (run.cpu.get("phases") or {}).items():  # type: ignore[union-attr]
        cores = figures.get("generator_cores")
        if isinstance(cores, float) and cores > BUSY_GENERATOR_CORES:
            warnings.append(f"{label}: the load generator used {cores:.2f} of a core in the {phase} phase "
                            f"(of {share.machine_cores}): it competed with the function for CPU")
    return {
        "memory_mb": run.memory_mb,
        "cpu": share.to_dict() | {"quota": run.cpu_quota},
        "cold": {"n": len(inits) + len(restores), "misclassified": run.misclassified_cold, "init_ms": _dist(inits),
                 "billed_ms": _dist(cold_billed), **({"restore_ms": _dist(restores)} if restores else {})},
        "warm": warm,
        "failures": dict(run.failures),
        "unexpected_cold": run.unexpected_cold,
        "missing_reports": run.missing_reports,
        "max_memory_used_mb": run.max_memory_used_mb,
        "cost": cost,
        "generator": dict(run.cpu),
        "wall_s": run.wall_s,
        "notes": [*([share.note] if share.note else []), *run.notes],
        "raw": run.raw(),
    }


def _limits(settings: TuneSettings, records: Sequence[Mapping[str, Any]]) -> list[str]:
    if settings.mode != "local":
        return ["remote: the CPU share is AWS's own; the figures carry the network-free REPORT durations"]
    cores = share_for(128).machine_cores
    limits = [
        f"AWS gives memory / 1769 vCPU (up to 6 at 10,240 MB, {AWS_SOURCE}); the local Lambda applies it as a CFS "
        f"quota per environment, but this machine has {cores} cores: above {cores * 1769} MB the quota cannot be "
        f"reached and every size runs on at most {cores} cores",
        "the cores are shared with the emulator, the load generator and other work (see the load average); "
        "AWS's vCPUs are the environment's own",
        "a single-threaded handler gains nothing past one vCPU (1,769 MB), here or on AWS",
        "CFS throttles per 100 ms period here; AWS does not publish its period, so short invocations that fit "
        "in one period's budget may run faster here at small sizes than on AWS (or slower)",
        f"the CPU is this machine's ({settings.architecture} prices are applied, the code ran on the local CPU)",
    ]
    capped = [r["memory_mb"] for r in records if r["cpu"]["capped_by_machine"]]
    if capped:
        limits.append(f"capped by the machine here: {', '.join(f'{m} MB' for m in capped)}")
    return limits


def _generators(settings: TuneSettings, generator: str) -> list[dict[str, Any]]:
    """Figure by figure: what measured it, what sent the requests; their CPU is in ``sizes[].generator``."""
    source = ("measured by the local Lambda's REPORT lines (serve-lambda: Init = runtime spawn -> first /next, Duration = "
              "/next -> /response)" if settings.mode == "local"
              else "measured by AWS: the function's REPORT lines in Invoke's LogResult (LogType=Tail)")
    cpu = "sizes[].generator.phases (getrusage of the tuner's process; psutil of the emulator front, local mode)"
    return [
        {"figure": "cold init (Init Duration)", "produced_by": source, "requests_from": generator, "cpu": cpu},
        {"figure": "warm duration (Billed Duration)", "produced_by": source, "requests_from": generator, "cpu": cpu},
        {"figure": "cost per million / per month", "produced_by": "computed by twinbench.tune.pricing from the warm billed "
         "durations (cost/prices.json, cost.model.lambda_monthly_cost)", "requests_from": None, "cpu": None},
    ]


def build_payload(runs: Sequence[SizeRun], settings: TuneSettings, *, generator: str, wall_s: float,
                  status: str, extra_warnings: Sequence[str] = ()) -> TuneResults:
    """The document payload for the sizes measured so far (all of them unless interrupted)."""
    warnings: list[str] = []
    records = [_size_record(run, settings, warnings) for run in sorted(runs, key=lambda r: r.memory_mb)]
    candidates = [strategies.Candidate(r["memory_mb"], r["warm"]["average_billed_ms"], r["cost"]["per_invocation_usd"])
                  for r in records if r["cost"] is not None]
    picks = None
    if candidates:
        chosen = strategies.pick_all(candidates, settings.balanced_weight)
        picks = {
            **{name: p.to_dict() for name, p in chosen.items()},
            "balanced_weight": settings.balanced_weight,
            "duration_method": f"trimmed mean of the warm Billed Durations, {settings.discard_top_bottom:.0%} dropped at "
                        "each end (Power Tuning's discardTopBottom)",
            "cost_method": "per invocation: request charge + average billed GB-s x the architecture's GB-s price "
                    "(Power Tuning prices compute only; the constant request charge does not change the cost pick)",
            "balanced_method": "minimise w * cost / max(cost) + (1 - w) * duration / max(duration); w = 0 is speed, 1 is cost",
            "source": strategies.POWER_TUNING_SOURCE,
        }
    elif records:
        warnings.append("no size produced warm figures: no pick")
    prices = load_prices()
    gb_s_key = f"lambda_{settings.architecture}_usd_per_gb_s"
    pricing = {
        "architecture": settings.architecture, "region": prices.region, "rps": settings.rps,
        "gb_s_usd": prices.usd(gb_s_key), "request_usd_per_million": prices.usd("lambda_usd_per_million_requests"),
        "as_of": prices.prices[gb_s_key].as_of, "source": prices.prices[gb_s_key].source,
        "hours_per_month": prices.hours_per_month, "keep_alive_s": settings.keep_alive_s, "note": FREE_TIER_NOTE,
    }
    run = {"settings": settings.to_dict(), "status": status, "wall_s": round(wall_s, 3),
           "sizes_measured": len(records), "sizes_planned": len(settings.memory_mb)}
    return TuneResults(run=run, sizes=records, picks=picks, pricing=pricing,
                       generators=_generators(settings, generator), limits=_limits(settings, records),
                       warnings=[*extra_warnings, *warnings])
