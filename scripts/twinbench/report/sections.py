"""Provider-side report sections, from the cloud collectors' JSON in the results folder.

``cloudwatch.json`` (``twinbench.cloudwatch``: CloudWatch metrics + REPORT lines) and
``kubectl.json`` (``twinbench.kubectl``: pod phases, HPA) are written by the collectors; when
present, the report shows what the platforms measured next to what the client saw (SeBS's
provider time vs client time). Absent files add nothing; unreadable ones, or documents of
another kind or of a newer version than this twinbench reads, add a note instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from twinbench.results import formats
from twinbench.results.formats import Format, UnknownFormat

__all__ = ["hpa_reaction_s", "render"]


def _load(path: Path, expected: Format) -> tuple[dict | None, str | None]:
    """``(document, None)``, ``(None, note)`` when unusable, ``(None, None)`` when absent."""
    if not path.exists():
        return None, None
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"`{path.name}` present but unreadable: {exc}"
    if not isinstance(doc, dict):
        return None, f"`{path.name}` present but not a {expected.name} document"
    try:
        fmt, _version = formats.identify(doc)  # today's envelope or version 1's
    except UnknownFormat as exc:
        return None, f"`{path.name}` ignored: {exc}"
    if fmt != expected:
        return None, f"`{path.name}` ignored: a {fmt.name} document, not {expected.name}"
    return doc, None


def _n(value: object, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _client(doc: dict, *path: str) -> dict | None:
    node: object = doc
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, dict) else None


def _cloudwatch(cw: dict, doc: dict) -> list[str]:
    lines = ["### Lambda: CloudWatch vs client", ""]
    target = cw.get("target", {})
    window = cw.get("window", {})
    lines.append(f"Function `{target.get('function_name')}` ({target.get('region')}, {target.get('memory_size_mb')} MB), "
                 f"window {window.get('start')} – {window.get('end')}.")
    lines += ["", "| figure | p50 ms | p99 ms | n |", "|---|---|---|---|"]
    reports = cw.get("reports") or {}
    warm = reports.get("warm_duration_ms") or {}
    lines.append(f"| provider: REPORT Duration (warm) | {_n(warm.get('p50'))} | {_n(warm.get('p99'))} | {warm.get('n', 0)} |")
    metrics = cw.get("lambda_metrics") or {}
    if metrics:
        lines.append(f"| provider: Duration metric (all) | {_n(metrics.get('duration_p50_ms'))} | "
                     f"{_n(metrics.get('duration_p99_ms'))} | {metrics.get('invocations_count', '—')} |")
    api = cw.get("api_metrics") or {}
    if api:
        lines.append(f"| provider: API Gateway Latency | {_n(api.get('latency_p50_ms'))} | {_n(api.get('latency_p99_ms'))} | "
                     f"{api.get('count', '—')} |")
        lines.append(f"| provider: API Gateway IntegrationLatency | {_n(api.get('integration_latency_p50_ms'))} | "
                     f"{_n(api.get('integration_latency_p99_ms'))} | |")
    client = _client(doc, "scenarios", "warm", "lambda", "latency")
    if client:
        lines.append(f"| client: warm latency | {_n(client.get('median_ms'))} | {_n(client.get('p99_ms'))} | {client.get('n')} |")
    lines += ["", "Client minus provider time is the network, API Gateway and the client itself.", ""]

    init = reports.get("init_duration_ms") or {}
    local_init = _client(doc, "scenarios", "cold_start", "lambda", "init") or _client(doc, "lambda_reports", "lambda", "init_duration")
    lines += ["### Lambda: Init Duration, cloud vs local", "", "| source | p50 ms | p90 ms | p99 ms | max ms | n |",
              "|---|---|---|---|---|---|",
              f"| CloudWatch REPORT lines | {_n(init.get('p50'))} | {_n(init.get('p90'))} | {_n(init.get('p99'))} | "
              f"{_n(init.get('max'))} | {init.get('n', 0)} |"]
    if local_init:
        lines.append(f"| local emulator | {_n(local_init.get('median_ms'))} | {_n(local_init.get('p90_ms'))} | "
                     f"{_n(local_init.get('p99_ms'))} | {_n(local_init.get('max_ms'))} | {local_init.get('n')} |")
    lines.append(f"\n{reports.get('cold_start_count', 0)} cold starts among {reports.get('count', 0)} REPORT lines.\n")
    lines += _emf(cw.get("emf_metrics"))

    cost = cw.get("cost") or {}
    if cost:
        lines += ["### Lambda: billed GB-s and cost, measured vs the cost model", ""]
        requests = cost.get("requests_count") or 0
        measured = cost.get("total_usd")
        lines.append(f"- measured (REPORT lines x pinned prices): {_n(cost.get('billed_gb_s'), 3)} GB-s, "
                     f"{requests} requests -> ${_n(measured, 6)}")
        model = doc.get("cost") or {}
        inputs = model.get("inputs") if not model.get("skipped") else None
        if inputs and requests and cost.get("compute_usd_per_gb_s") is not None:
            gb_s = requests * inputs["billed_duration_ms"] / 1000.0 * inputs["memory_mb"] / 1024.0
            cold = reports.get("cold_start_count") or 0
            gb_s += cold * (inputs.get("init_duration_ms") or 0) / 1000.0 * inputs["memory_mb"] / 1024.0
            predicted = gb_s * cost["compute_usd_per_gb_s"] + requests * cost["requests_usd_per_million"] / 1e6
            ratio = f" (measured / predicted = {measured / predicted:.2f})" if measured and predicted else ""
            lines.append(f"- cost model with the local inputs ({inputs['billed_duration_ms']:.1f} ms billed, "
                         f"{inputs['memory_mb']} MB, {cold} cold starts): {_n(gb_s, 3)} GB-s -> ${_n(predicted, 6)}{ratio}")
        lines.append("")
    for warning in cw.get("warnings", []):
        lines.append(f"- CloudWatch collector warning: {warning}")
    return lines


def _emf(emf: object) -> list[str]:
    """The handler's own per-route figures (its EMF metrics), when the collector found them."""
    if not isinstance(emf, dict) or not isinstance(emf.get("routes"), dict) or not emf["routes"]:
        return []
    lines = ["### Lambda: the handler's EMF metrics per route", "",
             "| route | requests | 5xx | cold starts | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|---|---|"]
    for route, m in sorted(emf["routes"].items(), key=lambda kv: -(kv[1].get("requests_count") or 0)):
        lines.append(f"| `{route}` | {_n(m.get('requests_count'), 0)} | {_n(m.get('errors_5xx_count'), 0)} | "
                     f"{_n(m.get('cold_starts_count'), 0)} | {_n(m.get('latency_p50_ms'), 2)} | "
                     f"{_n(m.get('latency_p99_ms'), 2)} | {_n(m.get('latency_max_ms'), 2)} |")
    lines += ["", "Latency as the handler measured it (inside the function, no Lambda or API Gateway overhead).", ""]
    return lines


def hpa_reaction_s(timeline: dict | None) -> float | None:
    """Seconds from the first sample where an HPA wants more replicas than are ready to when they are.

    ``None`` when the timeline shows no scale-up, or the scale-up never completed.
    """
    if not timeline or not timeline.get("samples"):
        return None
    start: float | None = None
    wanted = 0
    for sample in timeline["samples"]:
        desired = max((h.get("desired_replicas") or 0 for h in (sample.get("hpa") or {}).values()), default=0)
        ready = sample.get("pods_ready") or 0
        if start is None and desired > ready:
            start, wanted = sample["t_s"], desired
        elif start is not None and ready >= wanted:
            return round(sample["t_s"] - start, 1)
    return None


def _kubectl(kc: dict, doc: dict) -> list[str]:
    lines = ["### Kubernetes: pod start phases vs the local container start", ""]
    summary = kc.get("pods_summary") or {}
    lines += ["| phase (s after pod creation) | p50 | p90 | max | n |", "|---|---|---|---|---|"]
    for key, label in (("scheduled_s", "scheduled"), ("container_started_s", "container started"), ("ready_s", "ready")):
        d = summary.get(key) or {}
        lines.append(f"| {label} | {_n(d.get('p50'), 2)} | {_n(d.get('p90'), 2)} | {_n(d.get('max'), 2)} | {d.get('n', 0)} |")
    pulls = [p["image_pull_s"] for p in kc.get("pods", []) if p.get("image_pull_s") is not None]
    if pulls:
        lines.append(f"| image pull (from events) | {_n(sorted(pulls)[len(pulls) // 2], 2)} | | {_n(max(pulls), 2)} | {len(pulls)} |")
    local = _client(doc, "scenarios", "cold_start", "container", "init")
    if local and local.get("n"):
        lines.append(f"| local: process start -> ready | {_n(local['median_ms'] / 1000, 2)} | "
                     f"{_n((local.get('p90_ms') or 0) / 1000, 2)} | {_n(local['max_ms'] / 1000, 2)} | {local['n']} |")
    lines += ["", f"{summary.get('count', 0)} pods, {summary.get('ready_count', 0)} ready, "
              f"{summary.get('restarts_total', 0)} restarts, {summary.get('crash_looping_count', 0)} crash-looping.", ""]
    hpas = kc.get("hpas") or []
    if hpas:
        lines += ["### Kubernetes: HPA reaction", ""]
        for hpa in hpas:
            events = hpa.get("scaling_events") or []
            lines.append(f"- `{hpa.get('name')}`: {hpa.get('min_replicas')}–{hpa.get('max_replicas')} replicas, now "
                         f"{hpa.get('current_replicas')} (desired {hpa.get('desired_replicas')}); {len(events)} scaling events"
                         + (": " + "; ".join(f"{e.get('time')} -> {e.get('new_size')}" for e in events[:8]) if events else ""))
        reaction = hpa_reaction_s(kc.get("timeline"))
        if reaction is not None:
            lines.append(f"- time from the HPA wanting more replicas to them being ready: **{reaction:g} s** (watch timeline)")
        elif kc.get("timeline"):
            lines.append("- the watch timeline shows no completed scale-up")
        lines.append("")
    top = kc.get("top") or {}
    if top:
        lines.append(f"- `kubectl top`: {top.get('message') or ''} CPU {_n(top.get('cpu_millicores_total'), 0)} m, "
                     f"memory {_n(top.get('memory_mib_total'), 0)} MiB" if top.get("available") else
                     f"- `kubectl top`: not available ({top.get('message')})")
    for warning in kc.get("warnings", []):
        lines.append(f"- kubectl collector warning: {warning}")
    lines.append("")
    return lines


def render(folder: Path, doc: dict) -> list[str]:
    """Markdown lines for the provider-side sections (empty when no collector output is present)."""
    cloudwatch, cw_error = _load(folder / formats.CLOUDWATCH.file_name, formats.CLOUDWATCH)
    kubectl, kc_error = _load(folder / formats.KUBECTL.file_name, formats.KUBECTL)
    if cloudwatch is None and kubectl is None and not (cw_error or kc_error):
        return []
    lines = ["## Provider-side figures", "", "What the platforms measured, next to what the client saw.", ""]
    for error in (cw_error, kc_error):
        if error:
            lines += [f"- {error}", ""]
    if cloudwatch is not None:
        lines += _cloudwatch(cloudwatch, doc)
    if kubectl is not None:
        lines += _kubectl(kubectl, doc)
    return lines
