"""The table printed after a tuning run and ``report.md`` beside ``tune.json``, both from the document."""

from __future__ import annotations

from typing import Any

__all__ = ["render_markdown", "render_table"]


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def _usd(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def _cold_at(doc: dict[str, Any], memory_mb: int) -> str:
    for s in doc["sizes"]:
        if s["memory_mb"] == memory_mb and s["cold"]["n"]:
            return f"{s['cold']['init_ms']['p50']:.0f} ms"
    return "-"


def _rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for s in doc["sizes"]:
        cpu = s["cpu"]
        vcpu = f"{cpu['aws_vcpu']:.2f}" + (f" ({cpu['effective_vcpu']:.0f} here)" if cpu["capped_by_machine"] else "")
        init = s["cold"]["init_ms"]
        warm = s["warm"]
        billed = warm["billed_ms"]
        cost = s.get("cost") or {}
        warm_cpu = (s["generator"].get("phases") or {}).get("warm") or {}
        rows.append([
            str(s["memory_mb"]), vcpu,
            f"{_num(init['p50'], '{:.0f}')} (n={s['cold']['n']})",
            f"{_num(warm['average_billed_ms'], '{:.2f}')} ({_num(billed['p50'], '{:.0f}')}/{_num(billed['p99'], '{:.0f}')}, n={warm['n']})",
            _num(warm["duration_ms"].get("median_ms"), "{:.2f}"),
            _usd(cost.get("per_million_usd")),
            _usd(cost.get("monthly_usd")),
            f"{_num(warm_cpu.get('generator_cores'), '{:.2f}')}",
        ])
    return rows


HEADER = ["MB", "vCPU (AWS)", "cold init ms p50", "warm billed ms avg (p50/p99)", "duration ms p50", "$/1M inv",
          "$/month", "gen cores (warm)"]


def render_table(doc: dict[str, Any]) -> str:
    """Fixed-width table, the picks and the caveats: what ``make bench-tune`` prints."""
    settings = doc["run"]["settings"]
    rows = _rows(doc)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADER)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    out = [f"bench-tune ({settings['mode']}, profile {settings['profile']['name']}, {settings['architecture']}, "
           f"{settings['rps']:g} req/s for $/month, {doc['pricing']['region']} prices of {doc['pricing']['as_of']})",
           line(HEADER), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    picks = doc.get("picks")
    if picks:
        out.append("")
        for name in ("cost", "speed", "balanced"):
            p = picks[name]
            extra = f", w={picks['balanced_weight']:g}, score {p['score']:.3f}" if name == "balanced" else ""
            out.append(f"pick {name:>8}: {p['memory_mb']} MB ({p['duration_ms']:.2f} ms, "
                       f"${p['cost_usd'] * 1e6:.4f} per million{extra}; cold init p50 {_cold_at(doc, p['memory_mb'])})")
        out.append("picks on warm billed duration, as Power Tuning; the cold init beside each is not part of the pick")
    out.append("")
    out.append(f"avg = trimmed mean ({settings['discard_top_bottom']:.0%} each end, as Power Tuning); "
               f"{doc['pricing']['note']}")
    out.append("duration = REPORT Duration before rounding; gen cores = CPU the load generator (this process) "
               "used during the warm phase, in cores (report.md has both phases and the emulator front's)")
    for limit in doc["limits"]:
        out.append(f"limit: {limit}")
    for warning in doc["warnings"]:
        out.append(f"WARNING: {warning}")
    if doc.get("interrupted"):
        out.append(f"INTERRUPTED: {doc['run']['sizes_measured']} of {doc['run']['sizes_planned']} sizes measured")
    return "\n".join(out)


def render_markdown(doc: dict[str, Any]) -> str:
    """``report.md``: the table, the picks, the figure, which generator produced each figure and its CPU."""
    settings = doc["run"]["settings"]
    env = doc.get("environment", {})
    md = [f"# Memory power-tuning ({settings['mode']})", "",
          f"Created {doc['created']}; profile `{settings['profile']['name']}` "
          f"({settings['profile']['cold']} cold, {settings['profile']['warmup']} warm-up discarded, "
          f"{settings['profile']['warm']} warm per size); target: "
          + ", ".join(f"{k} `{v}`" for k, v in settings["target"].items()) + ".",
          f"Machine: {env.get('cpu_model')}, {env.get('cpus_usable')} usable cores, load average "
          f"{env.get('load_average_1_5_15')}; git {env.get('git', {}).get('commit')}"
          f"{' (dirty)' if env.get('git', {}).get('dirty') else ''}.", ""]
    if doc.get("interrupted"):
        md += [f"**Interrupted**: {doc['run']['sizes_measured']} of {doc['run']['sizes_planned']} sizes measured.", ""]
    md += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    md += ["| " + " | ".join(r) + " |" for r in _rows(doc)]
    md.append("")
    picks = doc.get("picks")
    if picks:
        md += ["## Picks (AWS Lambda Power Tuning's strategies)", ""]
        for name in ("cost", "speed", "balanced"):
            p = picks[name]
            md.append(f"- **{name}**: {p['memory_mb']} MB — {p['duration_ms']:.2f} ms average billed, "
                      f"${p['cost_usd'] * 1e6:.4f} per million invocations, cold init p50 {_cold_at(doc, p['memory_mb'])}"
                      + (f" (score {p['score']:.3f}, balancedWeight {picks['balanced_weight']:g})" if name == "balanced" else ""))
        md += ["", "Picked on warm billed duration and its cost, as Power Tuning does; cold init is shown, not weighed.",
               "", f"- duration: {picks['duration_method']}", f"- cost: {picks['cost_method']}",
               f"- balanced: {picks['balanced_method']}",
               f"- source: {picks['source']}", ""]
    for name in doc.get("figures", {}).values():
        md += [f"![duration and cost vs memory]({name})", ""]
    pricing = doc["pricing"]
    md += ["## Prices", "", f"{pricing['architecture']}: ${pricing['gb_s_usd']} per GB-s, "
           f"${pricing['request_usd_per_million']} per million requests ({pricing['region']}, {pricing['as_of']}, "
           f"{pricing['source']}); {pricing['rps']:g} req/s for the monthly figure, {pricing['hours_per_month']:g} h "
           f"per month; keep-alive {pricing['keep_alive_s']:g} s for the expected cold starts. {pricing['note']}.", ""]
    md += ["## Which generator produced each figure, and its CPU", ""]
    for g in doc["generators"]:
        md.append(f"- **{g['figure']}**: {g['produced_by']}"
                  + (f"; requests sent by {g['requests_from']}" if g["requests_from"] else ""))
    md += ["", "| MB | phase | wall s | generator CPU s | generator cores | helper CPU s | helper cores |",
           "|---|---|---|---|---|---|---|"]
    for s in doc["sizes"]:
        for phase, g in (s["generator"].get("phases") or {}).items():
            md.append(f"| {s['memory_mb']} | {phase} | {_num(g.get('wall_s'), '{:.2f}')} | "
                      f"{_num(g.get('generator_cpu_s'), '{:.3f}')} | {_num(g.get('generator_cores'), '{:.3f}')} | "
                      f"{_num(g.get('helper_cpu_s'), '{:.3f}')} | {_num(g.get('helper_cores'), '{:.3f}')} |")
    helper = next((s["generator"].get("helper") for s in doc["sizes"] if s["generator"].get("helper")), None)
    md += ["", "Generator: " + (doc["generators"][0]["requests_from"] or "-") + "; its CPU from getrusage(RUSAGE_SELF)."
           + (f" Helper: {helper}, its CPU from psutil." if helper else " No helper process (the requests go to AWS)."),
           "Cold phase = the forced cold starts (reaps or configuration updates included); warm = warm-ups + measured.",
           "", "## What this machine cannot reproduce", ""]
    md += [f"- {limit}" for limit in doc["limits"]]
    size_notes = [f"- {s['memory_mb']} MB: {note}" for s in doc["sizes"] for note in s["notes"]]
    if size_notes:
        md += ["", *size_notes]
    if doc["warnings"]:
        md += ["", "## Warnings", "", *(f"- {w}" for w in doc["warnings"])]
    return "\n".join(md) + "\n"
