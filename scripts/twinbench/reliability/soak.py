"""Soak: ``python -m twinbench soak`` / ``make soak``.

Why: a queue that grows a little each second passes a 5-s step and collapses in a 10-minute
one, and memory that grows per request shows only over hours of requests. For each target (the
ones ``make bench`` measures), one after the other: **saturation** measured in place, a **ramp**
(25/50/75 %) so the local Lambda scales out as real traffic lets it, the **soak** itself open loop
at ``load_fraction`` of saturation with the serving processes' RSS sampled, then the **figures**
(errors must be 0, p99 drift, RSS growth under ``rss_growth_max_pct``). The rules of each phase:
docs/benchmark.md, "Soak phases"; the figures: docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from twinserve_support.paths import REPO  # noqa: E402

from twinbench.measure.loadgen import LoadGenerator, Outcome, status_counts
from twinbench.measure.progress import Progress
from twinbench.measure.stats import summarize

RESULTS = REPO / "results"
SATURATION_LEVELS = (2, 4, 8, 16)
SATURATION_STEP_S = 5.0
SATURATION_OPEN_STEP_S = 20.0
SATURATION_OPEN_FRACTIONS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
STABLE_P99_FACTOR = 2.0
STABLE_P99_SLACK_MS = 10.0
RAMP_FRACTIONS = (0.25, 0.5, 0.75)
RSS_SAMPLE_S = 5.0
BOOT = re.compile(r"Booting worker with pid: (\d+)")

__all__ = ["SoakSettings", "run", "summary_lines", "rss_kb", "windows", "saturation_from_results"]


@dataclass(frozen=True)
class SoakSettings:
    """What ``make soak`` runs; durations in seconds, rates in requests/s."""

    duration_s: float = 600.0
    targets: tuple[str, ...] = ("container", "lambda")
    load_fraction: float = 0.7
    saturation_rps: float | None = None
    """Given: skip the measurement and use it for every target."""
    saturation_from_results: bool = False
    """Reuse the newest bench's closed-loop peak instead of measuring open-loop here. Faster, but a
    closed-loop peak overstates what an open-loop stream holds when the generator shares the cores
    (figures in docs/measurements.md)."""
    ramp_step_s: float = 10.0
    """Length of each ramp step (25/50/75 % of the soak rate) before the soak proper; 0 skips it."""
    window_s: float | None = None
    """p99 drift compares the first and last window of this length (default max(10, duration/10))."""
    rss_growth_max_pct: float = 5.0
    out_dir: Path | None = None

    @property
    def window(self) -> float:
        return self.window_s or max(10.0, self.duration_s / 10.0)


def rss_kb(pid: int) -> int | None:
    """Resident set size of ``pid`` in KiB (``VmRSS``), ``None`` when it is gone."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def saturation_from_results(target: str, results_dir: Path = RESULTS) -> tuple[float, str] | None:
    """``(max_achieved_rps, path)`` of ``target`` in the newest results.json that has it, else ``None``."""
    for path in sorted(results_dir.glob("*/results.json"), reverse=True):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
            doc = json.loads(path.read_text())
            value = doc["scenarios"]["scalability"][target]["max_achieved_rps"]
            if value and float(value) > 0:
                return float(value), str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return None


def windows(outcomes: list[Outcome], window_s: float) -> list[dict]:
    """Consecutive windows by completion time: count, errors, p50/p99 of the OK latencies (ms)."""
    if not outcomes:
        return []
    span = max(o.done_s for o in outcomes)
    # A trailing sliver (the last answers arrive just after the step's end) joins the last window:
    # a p99 of a handful of requests is no figure to compare.
    count = max(1, round(span / window_s))
    buckets: list[list[Outcome]] = [[] for _ in range(count)]
    for o in outcomes:
        buckets[min(count - 1, int(o.done_s // window_s))].append(o)
    result = []
    for i, bucket in enumerate(buckets):
        ok = [o.latency_ms for o in bucket if o.ok]
        stats = summarize(ok)
        result.append({"start_s": round(i * window_s, 1), "n": len(bucket), "errors": len(bucket) - len(ok),
                       "p50_ms": stats.get("p50_ms"), "p99_ms": stats.get("p99_ms")})
    return result


def latency_stable(outcomes: list[Outcome]) -> tuple[bool, float | None, float | None]:
    """``(stable, p99 first third, p99 last third)`` of a step's OK latencies, by completion time.

    Open-loop latency counts from the intended send, so a server that falls behind by a little
    each second shows it as a p99 that climbs through the step even while nothing has failed yet.
    """
    ok = sorted((o for o in outcomes if o.ok), key=lambda o: o.done_s)
    if len(ok) < 30:
        return bool(ok), None, None
    third = len(ok) // 3
    first = summarize([o.latency_ms for o in ok[:third]])["p99_ms"]
    last = summarize([o.latency_ms for o in ok[-third:]])["p99_ms"]
    return last <= STABLE_P99_FACTOR * first + STABLE_P99_SLACK_MS, first, last


# -- processes whose RSS is watched ------------------------------------------------------------

class _WorkerPids:
    """gunicorn's worker pids, from the ``Booting worker`` lines of its log.

    The log also holds one access line per request (hundreds of thousands in a soak), so only the
    bytes appended since the last look are read: re-reading the whole file every few seconds cost
    the load generator's process more each time.
    """

    def __init__(self, log: Path | None) -> None:
        self.log = log
        self._offset = 0
        self._tail = ""
        self._pids: list[int] = []

    def __call__(self) -> list[int]:
        if self.log is not None and self.log.exists():
            with self.log.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            self._offset += len(chunk)
            text = self._tail + chunk.decode(errors="replace")
            complete, _, self._tail = text.rpartition("\n")
            self._pids += [int(p) for p in BOOT.findall(complete)]
        return [p for p in self._pids if rss_kb(p) is not None]

    def sample(self) -> dict:
        return _sample(self())


class _LambdaPids:
    """The execution environments' pids, and how many invocations each has served so far."""

    def __init__(self, target) -> None:
        self.target = target

    def sample(self) -> dict:
        stats: dict = {}
        with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(
                self.target.url + "/_local_lambda/stats", timeout=10) as resp:
            stats = json.loads(resp.read())
        return {**_sample([int(p) for p in stats.get("environment_pids", [])]),
                "invocations_by_pid": {str(k): int(v) for k, v in stats.get("environment_invocations", {}).items()}}


# Run by the Lambda runtime's interpreter: RSS kept per distinct value given to setenv.
_SETENV_PROBE = r"""
import os, sys
values = sys.stdin.read().split()
def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss_kb()
for value in values:
    os.environ["_X_AMZN_TRACE_ID"] = value
print((rss_kb() - before) * 1024 / len(values))
"""


def setenv_retention_bytes(python: Path, count: int = 50_000) -> float | None:
    """Bytes of RSS each invocation's ``_X_AMZN_TRACE_ID`` leaves behind in an environment.

    awslambdaric sets that variable from every invocation's trace header, and glibc's ``setenv``
    never frees a value it was given (a pointer from an earlier ``getenv`` may still be in use).
    Measured with the runtime's own interpreter and the emulator's header format, so the soak can
    tell this growth — the runtime client's, and real Lambda's too — from the handler's.
    """
    import subprocess
    import uuid

    from twinbench.local_lambda.runtime_api import trace_header

    values = "\n".join(trace_header(str(uuid.uuid4())) for _ in range(count))
    with contextlib.suppress(OSError, ValueError, subprocess.SubprocessError):
        done = subprocess.run([str(python), "-c", _SETENV_PROBE], input=values, capture_output=True,
                              text=True, timeout=120, check=True)
        return round(float(done.stdout.strip()), 1)
    return None


def _sample(pids: list[int]) -> dict:
    values = {pid: rss_kb(pid) for pid in pids}
    alive = {pid: v for pid, v in values.items() if v is not None}
    return {"pids": sorted(alive), "rss_kb": sum(alive.values()),
            "rss_kb_by_pid": {str(pid): alive[pid] for pid in sorted(alive)}}


# -- one target --------------------------------------------------------------------------------

async def _measure_saturation(url: str, body: Sequence[bytes], progress: Progress) -> tuple[float, list[dict]]:
    """Closed-loop steps give a first estimate; open-loop steps at fractions of it give the answer:
    the highest offered rate served with no error, >= 95 % achieved, the generator not the
    bottleneck and latency not climbing (:func:`latency_stable`). (A closed-loop peak alone
    overstates what an open-loop stream can hold on a machine whose cores the generator shares.)"""
    steps = []
    async with LoadGenerator(url, body, timeout_s=10.0) as gen:
        await gen.sequential(50)  # warm-up, discarded
        for level in SATURATION_LEVELS:
            outcomes, generator = await gen.closed_loop(level, SATURATION_STEP_S)
            ok = [o for o in outcomes if o.ok]
            span = max((o.done_s for o in outcomes), default=0.0)
            rps = len(ok) / span if span else 0.0
            steps.append({"loop": "closed", "concurrency": level, "achieved_rps": round(rps, 1),
                          "errors": len(outcomes) - len(ok), "generator_bound": generator["bottleneck"]})
            progress.update(f"concurrency {level}: {rps:.0f} rps, errors {len(outcomes) - len(ok)}")
        estimate = max((s["achieved_rps"] for s in steps if s["errors"] == 0), default=0.0) or \
            max(s["achieved_rps"] for s in steps) / 2
        best = 0.0
        for fraction in SATURATION_OPEN_FRACTIONS:
            rate = max(1.0, round(estimate * fraction, 1))
            outcomes, generator = await gen.open_loop(rate, SATURATION_OPEN_STEP_S)
            ok = [o for o in outcomes if o.ok]
            span = max((o.done_s for o in outcomes), default=0.0)
            rps = len(ok) / span if span else 0.0
            stable, p99_first, p99_last = latency_stable(outcomes)
            held = (not (len(outcomes) - len(ok)) and rps >= 0.95 * rate and not generator["bottleneck"]
                    and stable)
            steps.append({"loop": "open", "offered_rps": rate, "achieved_rps": round(rps, 1),
                          "errors": len(outcomes) - len(ok), "generator_bound": generator["bottleneck"],
                          "p99_first_third_ms": p99_first, "p99_last_third_ms": p99_last,
                          "latency_stable": stable, "held": held})
            progress.update(f"open loop {rate:.0f} rps: achieved {rps:.0f}, p99 {p99_first} -> {p99_last} ms, "
                            f"held {held}")
            if not held:
                break
            best = rate
    return (best or estimate * SATURATION_OPEN_FRACTIONS[0]), steps


async def _soak_one(url: str, body: Sequence[bytes], rate: float, settings: SoakSettings, watch,
                    progress: Progress) -> tuple:
    duration_s = settings.duration_s
    samples: list[dict] = []
    ramp: list[dict] = []
    stop = asyncio.Event()
    t0 = time.perf_counter()

    async def sampler() -> None:
        while not stop.is_set():
            sample = await asyncio.to_thread(watch.sample)
            samples.append({"t_s": round(time.perf_counter() - t0, 1), **sample})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RSS_SAMPLE_S)

    def tick(info: dict) -> None:
        progress.update(f"{info['elapsed_s']:.0f}/{duration_s:.0f} s, {info['sent']} sent at {rate:.0f} rps")

    async with LoadGenerator(url, body, timeout_s=10.0) as gen:
        await gen.sequential(50)  # warm-up, discarded
        if settings.ramp_step_s > 0:
            for fraction in RAMP_FRACTIONS:
                step_rate = max(1.0, round(rate * fraction, 1))
                ramp_outcomes, _ = await gen.open_loop(step_rate, settings.ramp_step_s)
                counts = status_counts(ramp_outcomes)
                errors = sum(1 for o in ramp_outcomes if not o.ok)
                ramp.append({"offered_rps": step_rate, "duration_s": settings.ramp_step_s, "sent": len(ramp_outcomes),
                             "errors": errors, "status_counts": counts})
                progress.update(f"ramp {step_rate:.0f} rps: {len(ramp_outcomes)} sent, {errors} errors")
        task = asyncio.create_task(sampler())
        try:
            outcomes, generator = await gen.open_loop(rate, duration_s, progress=tick)
        finally:
            stop.set()
            await task
        samples.append({"t_s": round(time.perf_counter() - t0, 1), **watch.sample()})
    return outcomes, generator, samples, ramp


def _rss_growth(samples: list[dict], warm_s: float, retention_bytes: float | None = None) -> dict:
    """Growth from the first sample after ``warm_s`` (the first window) to the last, over the
    processes alive in both. A Lambda environment started mid-soak is scale-out, not a leak: it is
    left out of the sum and named in the note.

    With ``retention_bytes`` (the runtime client's per-invocation ``setenv`` retention, see
    :func:`setenv_retention_bytes`) and per-process invocation counts, the growth net of it is
    reported too: what is left is the handler's own."""
    usable = [s for s in samples if s["rss_kb"]]
    if len(usable) < 2:
        return {"baseline_kb": None, "end_kb": None, "growth_pct": None, "note": "fewer than two RSS samples"}
    baseline = next((s for s in usable if s["t_s"] >= warm_s), usable[0])
    end = usable[-1]
    before = baseline.get("rss_kb_by_pid") or {str(p): baseline["rss_kb"] / len(baseline["pids"]) for p in baseline["pids"]}
    after = end.get("rss_kb_by_pid") or {str(p): end["rss_kb"] / len(end["pids"]) for p in end["pids"]}
    common = sorted(set(before) & set(after), key=int)
    if not common:
        return {"baseline_t_s": baseline["t_s"], "baseline_kb": None, "end_kb": None, "growth_pct": None,
                "note": f"no process lived through the soak: {baseline['pids']} -> {end['pids']}"}
    note = None
    if set(before) != set(after):
        note = (f"process set changed during the soak: {baseline['pids']} -> {end['pids']}; "
                f"growth is over the {len(common)} present in both")
    base_kb = sum(before[p] for p in common)
    end_kb = sum(after[p] for p in common)
    result = {"baseline_t_s": baseline["t_s"], "baseline_kb": base_kb, "end_kb": end_kb, "pids": [int(p) for p in common],
              "growth_pct": round((end_kb - base_kb) / base_kb * 100.0, 2), "note": note}
    calls_before, calls_after = baseline.get("invocations_by_pid"), end.get("invocations_by_pid")
    if retention_bytes is not None and calls_before is not None and calls_after is not None:
        served = sum(calls_after.get(p, 0) - calls_before.get(p, 0) for p in common)
        retained_kb = served * retention_bytes / 1024.0
        result.update({"invocations_served": served, "setenv_retention_bytes_per_invocation": retention_bytes,
                       "setenv_retained_kb": round(retained_kb, 1),
                       "net_growth_pct": round((end_kb - base_kb - retained_kb) / base_kb * 100.0, 2)})
    return result


def soak_target(name: str, settings: SoakSettings, out_dir: Path, body: Sequence[bytes], progress: Progress) -> dict:
    from twinbench.targets import ContainerTarget, LambdaTarget

    target = ContainerTarget(log_dir=out_dir) if name == "container" else LambdaTarget(log_dir=out_dir)
    watch = (_WorkerPids(target.log_dir / "container-serving.log" if target.log_dir else None)
             if name == "container" else _LambdaPids(target))
    progress.phase(f"{name}: starting")
    with target:
        progress.done(target.url)
        saturation_steps: list[dict] = []
        if settings.saturation_rps:
            saturation, source = settings.saturation_rps, "--saturation-rps"
        elif settings.saturation_from_results and (found := saturation_from_results(name)) is not None:
            saturation, source = found[0], found[1]
        else:
            progress.phase(f"{name}: measuring saturation (closed loop {SATURATION_STEP_S:.0f} s steps, "
                           f"then open loop {SATURATION_OPEN_STEP_S:.0f} s steps)")
            saturation, saturation_steps = asyncio.run(_measure_saturation(target.url, body, progress))
            source = ("measured here (highest open-loop rate held for 20 s: 0 errors, >= 95 % achieved, "
                      "generator not bound, p99 not climbing)")
            progress.done(f"{saturation:.0f} rps")
        rate = max(1.0, round(saturation * settings.load_fraction, 1))
        progress.phase(f"{name}: soak at {rate:.0f} rps ({settings.load_fraction:.0%} of {saturation:.0f}) "
                       f"for {settings.duration_s:.0f} s")
        outcomes, generator, samples, ramp = asyncio.run(
            _soak_one(target.url, body, rate, settings, watch, progress))
        described = target.describe()
    retention = None
    if name == "lambda":
        python = (described.get("config") or {}).get("python")
        retention = setenv_retention_bytes(Path(python)) if python else None
    ok = [o for o in outcomes if o.ok]
    counts = status_counts(outcomes)
    wins = windows(outcomes, settings.window)
    first_p99, last_p99 = (wins[0]["p99_ms"], wins[-1]["p99_ms"]) if wins else (None, None)
    drift = round(last_p99 / first_p99, 3) if first_p99 and last_p99 else None
    rss = _rss_growth(samples, settings.window, retention)
    # The Lambda side is judged on what is left once the runtime client's own retention (the
    # same on real Lambda) is taken out; the gross figure is reported beside it.
    judged = rss.get("net_growth_pct", rss["growth_pct"])
    errors = len(outcomes) - len(ok)
    ramp_errors = sum(step["errors"] for step in ramp)
    problems = []
    if errors:
        problems.append(f"{errors} errors: {counts}")
    if ramp_errors:
        problems.append(f"{ramp_errors} errors in the ramp: {[step['status_counts'] for step in ramp]}")
    if rss["growth_pct"] is None:
        problems.append(f"RSS growth not measured ({rss.get('note')})")
    elif judged >= settings.rss_growth_max_pct:
        what = "net of the runtime client's setenv retention " if "net_growth_pct" in rss else ""
        problems.append(f"RSS grew {judged:.2f} % {what}(limit {settings.rss_growth_max_pct} %)")
    warnings = []
    if generator.get("bottleneck"):
        warnings.append(f"load generator was the bottleneck: {generator.get('bottleneck_reason')}")
    if drift is not None and drift > 1.5:
        warnings.append(f"p99 drifted x{drift} from the first to the last window")
    progress.done(f"{len(outcomes)} sent, {errors} errors (ramp {ramp_errors}), p99 {first_p99} -> {last_p99} ms, "
                  f"RSS {rss['growth_pct']} %")
    return {
        "target": name,
        "target_description": described,
        "saturation_rps": round(saturation, 1),
        "saturation_source": source,
        "saturation_steps": saturation_steps,
        "offered_rps": rate,
        "ramp": ramp,
        "ramp_errors": ramp_errors,
        "duration_s": settings.duration_s,
        "sent": len(outcomes),
        "ok": len(ok),
        "errors": errors,
        "status_counts": counts,
        "achieved_rps": round(len(ok) / max(o.done_s for o in outcomes), 1) if outcomes else 0.0,
        "latency": summarize([o.latency_ms for o in ok]),
        "window_s": settings.window,
        "windows": wins,
        "p99_first_window_ms": first_p99,
        "p99_last_window_ms": last_p99,
        "p99_drift_ratio": drift,
        "rss_samples": samples,
        "rss": rss,
        "generator": generator,
        "warnings": warnings,
        "problems": problems,
        "ok_overall": not problems,
    }


def run(settings: SoakSettings, progress: Progress | None = None) -> dict:
    """Soak every target; returns the document also written to ``<out_dir>/soak.json``.

    Interrupted (Ctrl-C, SIGTERM), it writes the targets finished so far, marked
    ``"interrupted": true``, then re-raises the ``KeyboardInterrupt``.
    """
    from twinbench.results import formats
    from twinbench.results.documents import SoakResults
    from twinbench.results.lifecycle import RunLifecycle
    from twinbench.results.run_folder import RunFolder
    from twinbench.targets import request_body, request_payloads

    progress = progress or Progress()
    for name in settings.targets:
        if name not in ("container", "lambda"):
            raise ValueError(f"unknown soak target {name!r} (container|lambda)")
    model_dir = Path(os.environ.get("MODEL_PATH") or REPO / "model")
    # The model's registered rows, round-robin (its first row for a model registered without them).
    body = request_payloads(model_dir) or [request_body(model_dir)]
    folder = (RunFolder(formats.SOAK, path=settings.out_dir) if settings.out_dir
              else RunFolder(formats.SOAK, root=RESULTS, prefix="soak"))
    with folder:
        payload = SoakResults(
            settings={"duration_s": settings.duration_s, "load_fraction": settings.load_fraction,
                      "ramp_step_s": settings.ramp_step_s,
                      "window_s": settings.window, "rss_growth_max_pct": settings.rss_growth_max_pct,
                      "targets": list(settings.targets)},
            path=str(folder.path / formats.SOAK.file_name))
        started = time.perf_counter()

        def write() -> dict:
            payload.wall_s = round(time.perf_counter() - started, 1)
            payload.ok = (not folder.interrupted and len(payload.targets) == len(settings.targets)
                          and all(r["ok_overall"] for r in payload.targets))
            document = folder.document(payload)
            folder.write(document, indent=2)
            return document.to_dict()

        with RunLifecycle(folder, save=write, note=progress.note) as lifecycle:
            for name in settings.targets:
                payload.targets.append(soak_target(name, settings, folder.path, body, progress))
    return lifecycle.saved


def summary_lines(document: dict) -> list[str]:
    """The figures printed at the end of ``make soak``."""
    lines = [f"{'target':10s} {'satur.':>7s} {'offered':>7s} {'sent':>8s} {'errors':>6s} {'p50':>7s} "
             f"{'p99 first':>9s} {'p99 last':>9s} {'drift':>6s} {'RSS start':>10s} {'RSS end':>10s} {'growth':>7s}"]
    for r in document["targets"]:
        rss = r["rss"]
        lines.append(
            f"{r['target']:10s} {r['saturation_rps']:7.0f} {r['offered_rps']:7.0f} {r['sent']:8d} {r['errors']:6d} "
            f"{r['latency'].get('p50_ms') or float('nan'):6.1f}ms {r['p99_first_window_ms'] or float('nan'):7.1f}ms "
            f"{r['p99_last_window_ms'] or float('nan'):7.1f}ms {r['p99_drift_ratio'] or float('nan'):6.2f} "
            f"{(rss['baseline_kb'] or 0) / 1024:8.1f}MB {(rss['end_kb'] or 0) / 1024:8.1f}MB "
            f"{rss['growth_pct'] if rss['growth_pct'] is not None else float('nan'):6.2f}%")
        lines.append(f"  saturation from {r['saturation_source']}; windows of {r['window_s']:.0f} s")
        if r.get("ramp"):
            steps = ", ".join(f"{s['offered_rps']:.0f} rps {s['errors']} errors" for s in r["ramp"])
            lines.append(f"  ramp before the soak: {steps}")
        for warning in r["warnings"]:
            lines.append(f"  WARNING {r['target']}: {warning}")
        if rss.get("note"):
            lines.append(f"  note {r['target']}: {rss['note']}")
        if rss.get("net_growth_pct") is not None:
            lines.append(
                f"  RSS {r['target']}: {rss['growth_pct']:.2f} % gross; awslambdaric sets _X_AMZN_TRACE_ID from every "
                f"invocation and glibc keeps each value: {rss['setenv_retention_bytes_per_invocation']:.0f} B x "
                f"{rss['invocations_served']} invocations = {rss['setenv_retained_kb'] / 1024:.1f} MB; "
                f"net of it {rss['net_growth_pct']:.2f} % (judged)")
        for problem in r["problems"]:
            lines.append(f"  FAIL {r['target']}: {problem}")
    lines.append(f"soak: {'PASS' if document['ok'] else 'FAIL'} in {document['wall_s']:.0f} s -> {document['path']}")
    return lines
