"""report.md and the printed summary table, rendered from a results document (never the reverse).

``render_folder(folder, doc)`` draws the plots and writes ``report.md``; ``summary_table(doc)``
is the compact text table the bench prints at the end. Provider-side sections are added when the
cloud collectors' JSON (``cloudwatch.json`` / ``kubectl.json``) sits in the results folder.
"""

from __future__ import annotations

from pathlib import Path

from twinbench.report import best_config
from twinbench.report import sections as provider_sections
from twinbench.report.formatting import get, ms, pct
from twinbench.report.plots import draw_all
from twinbench.report.recommendation import recommendation, simulated, traffic_text
from twinbench.targets.serverless_offline import OFFLINE_LABEL

__all__ = ["fmt_summary", "render_folder", "render_markdown", "summary_rows", "summary_table"]

TARGETS = ("lambda", "lambda-wsgi", "container")


def fmt_summary(summary: dict | None, unit: str = "ms") -> str:
    """``median [95 % CI] · p99 · n`` of one summary, e.g. ``1.42 [1.38–1.47] · p99 3.1 · n=300``."""
    if not summary or not summary.get("n"):
        return "no data"
    low, high = summary["ci95"]["median_ms"]
    ci = f"[{ms(low)}–{ms(high)}]" if low is not None or high is not None else "[n too small]"
    return f"{ms(summary['median_ms'])} {unit} {ci} · p99 {ms(summary['p99_ms'])} · n={summary['n']}"


def summary_rows(doc: dict) -> list[tuple[str, dict[str, str]]]:
    """(metric, {target: text}) rows shared by the printed table and report.md."""
    rows: list[tuple[str, dict[str, str]]] = []
    sc = doc["scenarios"]
    targets = [t for t in TARGETS if t in doc["targets"]]

    def row(label: str, fn) -> None:
        rows.append((label, {t: fn(t) for t in targets}))

    if "cold_start" in sc:
        def cold(t: str, key: str) -> str:
            res = sc["cold_start"].get(t)
            if not res:
                return "—"
            if res.get("skipped"):
                return "skipped"
            text = fmt_summary(res[key])
            if key == "first_response" and res["n_dropped_misclassified"]:
                text += f" ({res['n_dropped_misclassified']} dropped)"
            return text

        row("cold start: first answer", lambda t: cold(t, "first_response"))
        row("cold start: init / ready", lambda t: cold(t, "init"))
    pkg = get(doc, "environment", "lambda_package")
    if isinstance(pkg, dict) and "lambda" in targets:
        rows.append(("Lambda package (unzipped)", {"lambda": package_text(pkg), "container": "",
                                                    "lambda-wsgi": "the same zip (both handlers ship in it)"}))
        init = shipped_init(doc)
        if init is not None:
            rows.append(("Lambda init, shipped package", {"lambda": f"{fmt_summary(init[0])} ({init[1]})",
                                                          "container": ""}))
    if "warm" in sc:
        row("warm latency", lambda t: fmt_summary(get(sc, "warm", t, "latency")))  # type: ignore[arg-type]
    if "scalability" in sc:
        slo = doc["run"]["settings"]["slo_ms"]

        def knee(t: str) -> str:
            res = sc["scalability"].get(t)
            if not res:
                return "—"
            value = res["knee_rps"]
            if not value:
                return f"none (even the lowest step missed p99 <= {slo:g} ms)"
            if res.get("knee_is_lower_bound"):
                return f">= {value:g} req/s (the highest step offered; not saturated)"
            return f"{value:g} req/s"

        row(f"knee (p99 <= {slo:g} ms)", knee)
        row("max throughput seen", lambda t: f"{get(sc, 'scalability', t, 'max_achieved_rps')} req/s")
        row("429s / errors (all steps)", lambda t: _errors(sc["scalability"].get(t)))
    if "burst" in sc:
        def burst(t: str) -> str:
            res = sc["burst"].get(t)
            if not res:
                return "—"
            steady = res["time_to_steady_s"]
            steady_text = "not reached" if steady is None else f"{steady:g} s"
            return (f"steady after {steady_text}, cold {res['cold_starts']}, 429 {res['throttled_429']}, "
                    f"p99 {ms(res['latency']['p99_ms'])} ms")

        row(f"burst to {get(sc, 'burst', targets[0], 'offered_rps')} req/s", burst)
    cost = doc.get("cost")
    if cost and not cost.get("skipped"):
        comp = cost["comparison"]
        rps = cost["traffic_rps"]
        rows.append((f"monthly cost at {rps:g} req/s", {
            "lambda": f"${comp['lambda_cost']['monthly_usd']:,.2f}",
            "container": f"${comp['eks_cost']['monthly_usd']:,.2f} EKS / ${comp['fargate_cost']['monthly_usd']:,.2f} Fargate",
        }))
        be = comp["break_even_eks"]["rps"]
        rows.append(("break-even vs EKS", {"lambda": f"{be:.1f} req/s" if be else "—", "container": ""}))
    sim = simulated(doc)
    if sim is not None:
        plats = sim["document"]["platforms"]
        lam, kube = plats.get("lambda"), plats.get("kubernetes")
        label = (f"at your traffic, simulated ({sim['traffic']['source']}"
                 f"{', ' + format(sim['traffic']['rps'], 'g') + ' req/s' if sim['traffic'].get('rps') else ''})")
        rows.append((label, {
            "lambda": (f"${lam['cost_usd_per_month']:,.2f}/month, {lam['cold_starts']:,} cold, {lam['throttled']:,} 429, "
                       f"p99 {ms(lam['latency_ms']['p99'])} ms") if lam else "",
            "container": (f"${kube['cost_usd_per_month']:,.2f}/month EKS, {kube['rejected']:,} 503, "
                          f"p99 {ms(kube['latency_ms']['p99'])} ms, max {kube['max_replicas']} pods") if kube else "",
        }))
    best = best_config.summary_row(doc)
    if best is not None:
        rows.append(best)
    return rows


def package_text(pkg: dict) -> str:
    """``94.4 MiB (30.9 MiB zipped) of Lambda's 250 MiB`` from ``environment.lambda_package``."""
    zipped = f" ({pkg['zip_mib']:g} MiB zipped)" if pkg.get("zip_mib") else ""
    text = f"{pkg['unzipped_mib']:g} MiB{zipped} of Lambda's {pkg.get('lambda_limit_mib', 250):g} MiB"
    if not pkg.get("measured", True):
        text += " (local build)"
    return text


def shipped_init(doc: dict) -> tuple[dict, str] | None:
    """The cold-start init of the package the run measured: (summary, where it comes from), or None.

    Preference: the cold-start scenario (isolated forced cold starts; Init Duration from the
    emulator's REPORT lines, or the handler's own init header under serverless-offline / on a
    deployed function), then every REPORT Init Duration of the run (includes cold starts under
    load, so slower).
    """
    cold = get(doc, "scenarios", "cold_start", "lambda")
    if isinstance(cold, dict) and not cold.get("skipped") and cold["init"].get("n"):
        target = get(doc, "targets", "lambda") or {}
        if target.get("mode") == "remote":
            source = "forced cold starts on the deployed function, handler's init header"
        elif target.get("runtime") == "offline":
            source = "forced cold starts, handler's init header, serverless-offline"
        else:
            source = "forced cold starts, REPORT Init Duration"
        return cold["init"], source
    reports = get(doc, "lambda_reports", "lambda", "init_duration")
    if isinstance(reports, dict) and reports.get("n"):
        return reports, "every REPORT Init Duration of the run, including cold starts under load"
    return None


def _offline(doc: dict) -> bool:
    return get(doc, "targets", "lambda", "runtime") == "offline"


def _errors(res: dict | None) -> str:
    if not res:
        return "—"
    steps = res["rate_steps"] + res["concurrency_steps"]
    return f"{sum(s['throttled_429'] for s in steps)} / {sum(s['errors'] for s in steps)} of {sum(s['sent'] for s in steps)}"


def summary_table(doc: dict) -> str:
    """The compact table printed at the end of a run (plain text, fits 160 columns)."""
    rows = summary_rows(doc)
    targets = [t for t in TARGETS if t in doc["targets"]]
    header = ["metric", *targets]
    table = [header] + [[label, *(cells.get(t, "") for t in targets)] for label, cells in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for i, r in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(r)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    status = doc["run"]["status"]
    title = f"twinbench {doc['run']['id']} — profile {doc['run']['settings']['profile']}, status {status}"
    if _offline(doc):
        title += f"\nlambda = {OFFLINE_LABEL}"
    return "\n" + title + "\n" + "\n".join(lines) + "\n"


LIMITS = (
    "Both targets and the load generator share one machine; loopback replaces the network, API Gateway and the ALB, "
    "so absolute latencies are lower than in the cloud and every figure includes some contention.",
    "The local Lambda is AWS's runtime client (awslambdaric) behind this project's Runtime API emulator, not "
    "Firecracker: Init Duration covers the same phase but a real cold start also pays for fetching the package "
    "and starting the micro-VM (typically 100–300 ms more).",
    "The container's cold start is process start -> ready -> first answer, without image pull, scheduling or probe "
    "periods (a real pod start adds seconds; see the kubectl collector).",
    "CPU limits are CFS quotas on this machine's cores; cloud vCPUs differ in speed, so rates transfer only roughly.",
    "Throughput per pod is measured on one pod; fleet sizing in the cost model assumes linear scale-out.",
)


def render_markdown(doc: dict, plots: dict[str, str], provider: list[str]) -> str:
    env = doc["environment"]
    run = doc["run"]
    settings = run["settings"]
    lines = [f"# twinbench report — {run['id']}", ""]
    if run["status"] != "ok":
        lines += [f"> **Run status: {run['status']}** {run.get('error', '')} — figures below are partial.", ""]
    if _offline(doc):
        lines += [f"> **Lambda measured under {OFFLINE_LABEL}** (serverless-offline 14.8.2 via osls, "
                  "not the project's awslambdaric emulator): the cold start is inside the first Duration, "
                  "no 429s, no per-environment CPU share.", ""]
    lines += [
        f"Profile **{settings['profile']}**, SLO p99 <= **{settings['slo_ms']:g} ms**, {run['duration_s']} s, "
        f"{env.get('cpu_model')} ({env.get('cpu_count')} cores), Python {env.get('python')}, "
        f"commit `{(env.get('git') or {}).get('commit') or 'unknown'}`"
        f"{' (dirty)' if (env.get('git') or {}).get('dirty') else ''}.",
        "",
        *_model_line(settings.get("model")),
        "## Summary",
        "",
        "Every latency: median [95 % CI of the median] · p99 · n. Percentiles from HDR histograms; "
        "CIs by order statistics from the raw samples (— = too few samples for a bound).",
        "",
    ]
    targets = [t for t in TARGETS if t in doc["targets"]]
    headers = [f"{t} ({OFFLINE_LABEL})" if t == "lambda" and _offline(doc) else t for t in targets]
    lines.append("| metric | " + " | ".join(headers) + " |")
    lines.append("|---|" + "---|" * len(targets))
    for label, cells in summary_rows(doc):
        lines.append(f"| {label} | " + " | ".join(cells.get(t, "") for t in targets) + " |")
    lines += ["", "## Recommendation", "", recommendation(doc), ""]
    lines += best_config.section(doc)
    lines += simulation_section(doc)
    lines += wsgi_section(doc)
    lines += generator_section(doc)
    if doc["warnings"]:
        lines += ["## Warnings", ""] + [f"- {w}" for w in doc["warnings"]] + [""]
    lines += ["## Targets", ""]
    for name in targets:
        t = doc["targets"][name]
        cfg = t.get("config", {})
        keys = ("memory_mb", "cpus", "vcpu", "concurrency_limit", "reserved_concurrency", "idle_s",
                "cpu_quota_applied", "memory_limit_applied", "server_env", "limits_source")
        detail = ", ".join(f"{k}={cfg[k]}" for k in keys if k in cfg)
        lines.append(f"- **{name}** — {t['mode']}, runtime `{t['runtime']}`{': ' + detail if detail else ''}")
        for note in t.get("notes", []):
            lines.append(f"  - {note}")
    lines.append("")
    lines += _package_section(doc)
    lines += _scenario_sections(doc, plots)
    if provider:
        lines += provider
    limits = list(LIMITS)
    if _offline(doc):
        limits[1] = (f"The local Lambda is serverless-offline 14.8.2 ({OFFLINE_LABEL}): one Python process per busy "
                     "function instance, the init inside the first request's Duration, reservedConcurrency ignored, "
                     "no CPU share per environment; cold-start init is the handler's own measurement.")
    lines += ["## Limits of local measurement", ""] + [f"- {item}" for item in limits] + [""]
    cost = doc.get("cost")
    if cost and not cost.get("skipped"):
        lines += ["## Cost model inputs and assumptions", ""]
        lines += [f"- {n}" for n in cost["notes"]]
        lines += [f"- {a}" for a in cost["comparison"].get("assumptions", [])] + [""]
    lines += ["## Environment", "", "| | |", "|---|---|"]
    for key in ("cpu_model", "cpu_count", "memory_total_mb", "load_average_1_5_15", "os", "cgroup_version", "python"):
        lines.append(f"| {key} | {env.get(key)} |")
    libs = ", ".join(f"{k} {v}" for k, v in (env.get("libraries") or {}).items() if v)
    lines += [f"| libraries | {libs} |", "", f"Re-render: `python -m twinbench report {Path('results') / run['id']}`", ""]
    return "\n".join(lines)


def simulation_section(doc: dict) -> list[str]:
    """"At your traffic (simulated)": every figure labelled simulated, every input measured or default."""
    raw = doc.get("simulation")
    if raw is None:
        return []
    out = ["## At your traffic (simulated)", ""]
    if raw.get("skipped"):
        return out + [f"Not simulated: {raw.get('reason')}.", ""]
    sim = raw
    sdoc = sim["document"]
    plats = sdoc["platforms"]
    out.append(f"The trace-driven simulator (`twinbench simulate`, seed {sdoc['seed']}) replayed {traffic_text(sim)}, "
               f"{sdoc['profile']['requests']:,} requests, request by request on both platforms with this run's "
               "measured service times. Every figure in this table is **simulated**; the inputs below say which were "
               "**measured locally** and which are **defaults**.")
    out += ["", "| figure (simulated) | " + " | ".join(plats) + " |", "|---|" + "---|" * len(plats)]

    def row(label: str, fn) -> None:
        out.append(f"| {label} | " + " | ".join(fn(p) for p in plats.values()) + " |")

    row("requests", lambda p: f"{p['requests']:,}")
    row("cold starts (fraction of requests)", lambda p: f"{p['cold_starts']:,} ({pct(p.get('cold_start_fraction', 0.0))})")
    row("throttled (429) / rejected (503)", lambda p: f"{p['throttled']:,} / {p['rejected']:,}")
    row("latency p50 / p99 ms", lambda p: f"{ms(p['latency_ms']['p50'])} / {ms(p['latency_ms']['p99'])}")
    row("max environments / replicas / nodes",
        lambda p: f"{p['max_environments']:,} / {p['max_replicas']:,} / {p['max_nodes']:,}")
    row("monthly cost, USD (730 h)", lambda p: f"${p['cost_usd_per_month']:,.2f}"
        + (f" EKS; ${p['fargate_cost']['total_usd']:,.2f} Fargate" if p.get("fargate_cost") else ""))
    out += ["", "Inputs:", ""]
    params = sdoc.get("parameters", {})
    described = {
        "lambda_duration_ms": (params.get("lambda", {}).get("duration") or {}),
        "lambda_init_ms": (params.get("lambda", {}).get("init") or {}),
        "container_service_ms": (params.get("kubernetes", {}).get("service") or {}),
    }
    for key, origin in sim["provenance"].items():
        detail = described.get(key) or {}
        extra = ""
        if detail.get("mean_ms") is not None:
            extra = f": mean {ms(detail['mean_ms'])} ms"
        elif key == "pod_capacity_rps":
            extra = f": {sdoc['inputs'].get('pod_capacity_rps')} req/s per pod"
        elif key == "memory_mb":
            extra = f": {sdoc['inputs'].get('memory_mb')} MB"
        elif key == "lambda_keep_alive_s":
            extra = f": {params.get('lambda', {}).get('keep_alive_s')} s"
        out.append(f"- {key.replace('_', ' ')}{extra} — *{origin}*")
    for note in sdoc["inputs"].get("notes", []):
        out.append(f"- note: {note}")
    for warning in sdoc.get("warnings", []):
        out.append(f"- simulator warning: {warning}")
    return out + ["", "The per-minute cost model's figures (section *Monthly cost*) are kept for comparison.", ""]


def wsgi_section(doc: dict) -> list[str]:
    """Native handler vs the WSGI function on Lambda, and which to deploy."""
    if "lambda" not in doc["targets"] or "lambda-wsgi" not in doc["targets"]:
        return []
    sc = doc["scenarios"]
    names = ("lambda", "lambda-wsgi")
    out = ["## Lambda: native handler vs WSGI (Flask through serverless-wsgi)", "",
           "`lambda` = `handler.handler` (no Flask), `lambda-wsgi` = `wsgi_handler.handler` (the container's Flask app "
           "through serverless-wsgi). Both ship in **the same zip**, so the package size is the same; what differs is "
           "what each imports at init and runs per request.", "",
           "| figure | lambda (native) | lambda-wsgi | wsgi / native |", "|---|---|---|---|"]

    def ratio(a: float | None, b: float | None) -> str:
        return f"{b / a:.2f}x" if a and b else "—"

    def pick(*path: str) -> tuple[float | None, float | None]:
        vals = tuple(get(sc, path[0], n, *path[1:]) for n in names)
        return tuple(v if isinstance(v, (int, float)) else None for v in vals)  # type: ignore[return-value]

    cold = pick("cold_start", "init", "median_ms")
    first = pick("cold_start", "first_response", "median_ms")
    warm_med = pick("warm", "latency", "median_ms")
    warm_p99 = pick("warm", "latency", "p99_ms")
    knee = pick("scalability", "knee_rps")
    top = pick("scalability", "max_achieved_rps")
    for label, pair, unit in (("cold start: init, median", cold, "ms"), ("cold start: first answer, median", first, "ms"),
                              ("warm latency, median", warm_med, "ms"), ("warm latency, p99", warm_p99, "ms"),
                              ("knee (p99 <= SLO)", knee, "req/s"), ("max throughput seen", top, "req/s")):
        out.append(f"| {label} | {ms(pair[0])} {unit} | {ms(pair[1])} {unit} | {ratio(*pair)} |")
    pkg = get(doc, "environment", "lambda_package")
    if isinstance(pkg, dict):
        out.append(f"| package | {package_text(pkg)} | the same zip | 1.00x |")
    # Native wins unless WSGI is at least as fast warm and at cold start (within 10 %): the native
    # handler imports no Flask, so that is what one expects; the figures decide, not the expectation.
    slower = [label for label, pair in (("cold start", cold), ("warm median", warm_med), ("throughput", top))
              if pair[0] and pair[1] and (pair[1] > 1.1 * pair[0] if label != "throughput" else pair[1] < 0.9 * pair[0])]
    if cold[0] is None and warm_med[0] is None:
        verdict = "not enough figures to compare (run the cold and warm scenarios on both)"
    elif slower:
        verdict = (f"deploy the **native handler** (`predict`): the WSGI function is worse on {', '.join(slower)} "
                   "by more than 10 %; keep `predict-wsgi` only if one Flask app for both platforms matters more")
    else:
        verdict = ("either: the WSGI function is within 10 % of the native handler here, so deploy `predict-wsgi` if "
                   "one Flask app on both platforms is worth it, else the native `predict`")
    return out + ["", f"**Which to deploy:** {verdict}.", ""]


def _generator_of(step: dict) -> str:
    gen = step.get("generator") or {}
    name = gen.get("name") or "builtin"
    return f"locust ({gen.get('workers')} workers)" if name == "locust" else "built-in (aiohttp, one process)"


def generator_section(doc: dict) -> list[str]:
    """Which generator produced each figure and the CPU it used (so a generator-bound figure is visible)."""
    sc = doc["scenarios"]
    out = ["## Load generators", "",
           "| scenario | target | generator | steps | CPU used (mean / max) | generator-bound steps |", "|---|---|---|---|---|---|"]
    for scenario in ("scalability", "burst"):
        for name, res in (sc.get(scenario) or {}).items():
            steps = (res["rate_steps"] + res["concurrency_steps"]) if scenario == "scalability" else [res]
            by_gen: dict[str, list[dict]] = {}
            for step in steps:
                by_gen.setdefault(_generator_of(step), []).append(step)
            for gen, group in by_gen.items():
                cpu = [s["generator"].get("cpu_cores_used", s["generator"]["cpu_fraction"]) for s in group]
                bound = sum(1 for s in group if s["generator"]["bottleneck"])
                out.append(f"| {scenario} | {name} | {gen} | {len(group)} | {sum(cpu) / len(cpu):.2f} / {max(cpu):.2f} "
                           f"cores | {bound} |")
    if "warm" in sc:
        out.append("| warm | all | built-in (aiohttp, sequential, one connection) | — | not measured (one request "
                   "at a time) | — |")
    if "cold_start" in sc:
        out.append("| cold start | all | single requests (urllib), no load generator | — | — | — |")
    out += ["", "CPU in cores of this machine: the built-in generator's own process time over wall time; Locust's is "
            "the sum over its master and workers (psutil, each process reporting its own). Open-loop latency is "
            "measured from the intended send time by both generators.", ""]
    return out


def _package_section(doc: dict) -> list[str]:
    pkg = get(doc, "environment", "lambda_package")
    if not isinstance(pkg, dict):
        return []
    out = ["## Lambda package", ""]
    target = f"; project target <= {pkg['target_mib']:g} MiB" if pkg.get("target_mib") else ""
    out.append(f"- size: **{package_text(pkg)}**{target}; {pkg.get('files')} files; from `{pkg['source']}`")
    if pkg.get("note"):
        out.append(f"- {pkg['note']}")
    largest = pkg.get("largest") or {}
    if largest:
        out.append("- largest entries: " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in largest.items()))
    init = shipped_init(doc)
    if init is not None:
        summary, source = init
        out.append(f"- cold-start init of this package ({source}): {fmt_summary(summary)}")
    else:
        out.append("- cold-start init of this package: not measured in this run (cold scenario skipped)")
    return out + [""]


def _scenario_sections(doc: dict, plots: dict[str, str]) -> list[str]:
    sc = doc["scenarios"]
    out: list[str] = []
    if "cold_start" in sc:
        out += ["## Cold start", ""]
        for name, res in sc["cold_start"].items():
            label = f" ({OFFLINE_LABEL})" if name == "lambda" and _offline(doc) else ""
            if res.get("skipped"):
                out.append(f"- {name}{label}: skipped — {res['reason']}")
            else:
                unknown = f", {res['n_unknown_cold_flag']} without a cold header" if res.get("n_unknown_cold_flag") else ""
                out.append(f"- {name}{label}: {res['n_valid']} valid of {res['n_requested']} "
                           f"({res['n_dropped_misclassified']} dropped as not cold{unknown}, {res['n_failed']} failed); "
                           f"first answer {fmt_summary(res['first_response'])}; init/ready {fmt_summary(res['init'])}")
                if res.get("method"):
                    restored = "restored" if res.get("config_restored") else "NOT confirmed restored"
                    out.append(f"  - forced by {res['method']} on {res.get('function_name')} ({res.get('region')}); "
                               f"config update wait {fmt_summary(res.get('config_update_wait_ms'))}; "
                               f"configuration {restored}; init from {res.get('init_source')}")
        out += ["", *_img(plots, "cold_start", "cold-start distribution"), ""]
    if "warm" in sc:
        out += ["## Warm latency", ""]
        for name, res in sc["warm"].items():
            out.append(f"- {name}: {fmt_summary(res['latency'])} ({res['n_warmup']} warm-ups discarded, "
                       f"{res['errors']} errors)")
        out += ["", *_img(plots, "latency_cdf", "latency CDF"), ""]
    if "scalability" in sc:
        out += ["## Scalability", "", "Open-loop steps: latency from the *intended* send time (corrected for "
                "coordinated omission). `gen` marks steps where the load generator was the bottleneck; `locust` steps came "
                "from Locust, the others from the built-in generator.", ""]
        out += ["| target | offered | achieved | median | p99 [95 % CI] | errors | 429 | cold | gen CPU | gen |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for name, res in sc["scalability"].items():
            for s in res["rate_steps"]:
                out.append(_step_row(name, f"{s['offered_rps']:g} rps", s))
            for s in res["concurrency_steps"]:
                out.append(_step_row(name, f"c={s['concurrency']}", s))
        out += ["", *_img(plots, "scalability", "throughput and p99 vs offered load"), ""]
    if "burst" in sc:
        out += ["## Burst", ""]
        for name, res in sc["burst"].items():
            out.append(f"- {name}: {res['offered_rps']:g} req/s for {res['duration_s']:g} s after {res['idle_s']:g} s idle"
                       f"{' (' + res['idle_action'] + ')' if res.get('idle_action') else ''}: steady after "
                       f"{res['time_to_steady_s'] if res['time_to_steady_s'] is not None else 'never'} s, "
                       f"{res['cold_starts']} cold starts, {res['throttled_429']} throttled, "
                       f"{fmt_summary(res['latency'])}")
        out += ["", "Steady = from the end of the last window whose p99 exceeded the SLO or that had an error.", "",
                *_img(plots, "burst", "burst timeline"), ""]
    cost = doc.get("cost")
    if cost:
        out += ["## Monthly cost", ""]
        if cost.get("skipped"):
            out += [f"Not computed: {cost['reason']}.", ""]
        else:
            comp = cost["comparison"]
            out.append(f"Traffic: {cost['traffic_shape']}, mean {cost['traffic_rps']:g} req/s.")
            out.append("")
            out += ["| platform | USD/month |", "|---|---|"]
            for key in ("lambda_cost", "eks_cost", "fargate_cost"):
                out.append(f"| {comp[key]['label']} | {comp[key]['monthly_usd']:,.2f} |")
            for key, label in (("break_even_eks", "EKS"), ("break_even_fargate", "Fargate")):
                be = comp[key]["rps"]
                out.append(f"\nBreak-even vs {label}: {f'{be:.2f} req/s' if be else be}.")
            out += ["", *_img(plots, "cost", "monthly cost vs request rate"), ""]
    return out


def _step_row(name: str, label: str, s: dict) -> str:
    lat = s["latency"]
    low, high = lat["ci95"]["p99_ms"]
    ci = f"[{ms(low)}–{ms(high)}]"
    return (f"| {name} | {label} | {s['achieved_rps']:g} | {ms(lat['median_ms'])} | {ms(lat['p99_ms'])} {ci} | "
            f"{s['errors']} | {s['throttled_429']} | {s['cold_starts']} | {s['generator']['cpu_fraction']:.0%} | "
            f"{'locust ' if s['generator'].get('name') == 'locust' else ''}{'gen' if s['generator']['bottleneck'] else ''} |")


def _img(plots: dict[str, str], key: str, alt: str) -> list[str]:
    return [f"![{alt}]({plots[key]})"] if key in plots else []


def _model_line(model: dict | None) -> list[str]:
    """Which model the figures are of: name, estimator, what served it, where the payload came from."""
    if not model or "name" not in model:
        return []
    return [f"Model **{model['name']}** ({model.get('estimator')}, {model.get('task')}), served by "
            f"**{model.get('backend')}**; request payload: the first registered row ({model.get('payload_source')}, "
            f"{model.get('sample_rows')} rows kept).", ""]


def render_folder(folder: Path, doc: dict) -> Path:
    """Draw the plots and write ``folder/report.md``; returns its path."""
    plots = draw_all(doc, folder)
    provider = provider_sections.render(folder, doc)
    path = folder / "report.md"
    path.write_text(render_markdown(doc, plots, provider))
    return path
