""""Best configuration at your traffic": the bench's quick configuration search, rendered.

Rendered from ``simulation.search`` in results.json (a ``twinbench.recommendation`` document made by
``twinbench recommend --quick``'s grid within the bench's time budget). Every figure is simulated.
A platform whose configuration misses the SLO (latency at its percentile or the error budget) is
shown with its errors beside its cost and is never ranked on cost: the verdict compares the
platforms at their best *feasible* configurations only.
"""

from __future__ import annotations

from twinbench.recommend.document import NAMES, describe_config

__all__ = ["recommendation", "search_of", "section", "summary_row"]


def search_of(doc: dict) -> dict | None:
    """``simulation.search`` (done or skipped) when the run has one, else None (older documents)."""
    sim = doc.get("simulation")
    if not isinstance(sim, dict) or sim.get("skipped"):
        return None
    search = sim.get("search")
    return search if isinstance(search, dict) else None


def _done(doc: dict) -> dict | None:
    search = search_of(doc)
    return search if search is not None and not search.get("skipped") else None


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _slo_text(slo: dict) -> str:
    return f"p{slo['percentile']:g} <= {slo['latency_ms']:g} ms, errors <= {slo['error_budget'] * 100:g} % of requests"


def _misses(fig: dict, slo: dict) -> str:
    return (f"misses the SLO ({'+'.join(fig['binding'])}): {fig['errors']:,} errors, "
            f"p{slo['percentile']:g} {_ms(fig['latency_ms']['at_slo_percentile'])} ms")


def _shipped_sentence(platforms: dict, winner: str | None, slo: dict) -> str:
    """What the shipped settings would have said, and whether the best configurations change it."""
    shipped = {k: p["shipped"] for k, p in platforms.items()}
    ok = {k: f["cost_usd_per_month"] for k, f in shipped.items() if f["meets_slo"]}
    cheapest_any = min(shipped, key=lambda k: shipped[k]["cost_usd_per_month"])
    ship_winner = min(ok, key=lambda k: ok[k]) if ok else None
    trap = ""
    if cheapest_any != ship_winner:
        f = shipped[cheapest_any]
        trap = (f"; {NAMES[cheapest_any]} as shipped looks cheapest at ${f['cost_usd_per_month']:,.2f}/month but "
                f"{_misses(f, slo)}")
    if ship_winner is None:
        head = "As shipped, no platform meets the SLO"
    else:
        head = (f"As shipped, {NAMES[ship_winner]} is the cheapest that meets it "
                f"(${ok[ship_winner]:,.2f}/month)")
    if ship_winner == winner:
        return f"{head}{trap}: the same answer."
    return f"{head}{trap}: **at their best, the verdict changes**."


def recommendation(doc: dict) -> str | None:
    """The report's recommendation from the search (each platform at its best), or None without one."""
    search = _done(doc)
    if search is None:
        return None
    rec = search["document"]
    slo, platforms = rec["slo"], rec["platforms"]
    winner = rec["verdict"]["winner"]
    lead = (f"**Recommendation (simulated; each platform at its best configuration found by a quick search at "
            f"your traffic, SLO {_slo_text(slo)}):** ")
    parts: list[str] = []
    if winner is not None:
        best = platforms[winner]["best"]
        text = (f"{lead}{NAMES[winner]}, at {describe_config(best['config'])}: "
                f"${best['cost_usd_per_month']:,.2f}/month")
        for name, p in platforms.items():
            if name != winner and p["feasible"]:
                cost = p["best"]["cost_usd_per_month"]
                ratio = f", {cost / best['cost_usd_per_month']:.2f}x" if best["cost_usd_per_month"] else ""
                text += f", vs {NAMES[name]} at its best ${cost:,.2f}/month ({describe_config(p['best']['config'])}{ratio})"
        parts.append(text + ".")
    else:
        parts.append(f"{lead}neither platform: no configuration searched meets the SLO.")
    for name, p in platforms.items():
        if not p["feasible"]:
            closest = p.get("closest")
            detail = "" if closest is None else (
                f"; the closest, {describe_config(closest['config'])}, costs ${closest['cost_usd_per_month']:,.2f}/month "
                f"and {_misses(closest, slo)}")
            parts.append(f"{NAMES[name]} is not ranked on cost: none of its configurations searched meets the SLO "
                         f"({', '.join(p['binding']) or '-'} binds{detail}).")
    parts.append(_shipped_sentence(platforms, winner, slo))
    if search["budget_reached"]:
        parts.append(f"The search stopped at its {search['budget_s']:g} s budget: these are the best configurations "
                     "it found, not necessarily the best of the grid.")
    if winner is None:
        parts.append("Search the whole grid (`make recommend`) or relax the SLO.")
    return " ".join(parts)


def _short(cfg: dict) -> str:
    """The settings that tell configurations apart, short enough for the printed summary table."""
    if "memory_mb" in cfg:
        extra = f" PC {cfg['provisioned_concurrency']}" if cfg["provisioned_concurrency"] else ""
        return f"{cfg['memory_mb']} MB {cfg['architecture']}{extra}{' SnapStart' if cfg['snapstart'] else ''}"
    return (f"{cfg['pod_cpu_m']}m x{cfg['workers']}w, HPA {cfg['min_replicas']}..{cfg['max_replicas']} "
            f"@{cfg['target_utilization']:.0%}, {cfg['instance_type']}")


def summary_row(doc: dict) -> tuple[str, dict[str, str]] | None:
    """The summary table's row: each platform's best configuration and its simulated cost."""
    search = _done(doc)
    if search is None:
        return None
    platforms = search["document"]["platforms"]

    def cell(name: str) -> str:
        p = platforms.get(name)
        if p is None:
            return ""
        if not p["feasible"]:
            return f"none meets the SLO ({', '.join(p['binding'])} binds)"
        b = p["best"]
        return (f"${b['cost_usd_per_month']:,.2f}/month{' EKS' if name == 'kubernetes' else ''}, "
                f"{_short(b['config'])}, p99 {_ms(b['latency_ms']['p99'])} ms")

    return "best configuration at your traffic, simulated", {"lambda": cell("lambda"), "container": cell("kubernetes")}


def _row(platform: str, label: str, fig: dict | None, slo: dict) -> str:
    if fig is None:
        return f"| {NAMES[platform]} | {label} | — | — | — | — | — | — |"
    lat = fig["latency_ms"]
    meets = "yes" if fig["meets_slo"] else f"**no** ({'+'.join(fig['binding'])})"
    cost = f"${fig['cost_usd_per_month']:,.2f}" + ("" if fig["meets_slo"] else " (not ranked: misses the SLO)")
    return (f"| {NAMES[platform]} | {label} | {describe_config(fig['config'])} | {meets} | {cost} | "
            f"{_ms(lat['p50'])} / {_ms(lat['p99'])} | {fig['cold_starts']:,} | {fig['errors']:,} |")


def _command(search: dict, extra: str = "") -> str:
    return "`" + " ".join(search.get("command") or ["make", "recommend"]) + extra + "`"


def section(doc: dict) -> list[str]:
    """"Best configuration at your traffic (simulated)": shipped vs best per platform, the verdict, how to deploy."""
    search = search_of(doc)
    if search is None:
        return []
    out = ["## Best configuration at your traffic (simulated)", ""]
    if search.get("skipped"):
        return out + [f"Not searched: {search['reason']}.", "", f"Search it apart: {_command(search)}.", ""]
    rec = search["document"]
    slo, platforms = rec["slo"], rec["platforms"]
    evaluated = sum(p["search"]["evaluated"] for p in platforms.values())
    pruned = sum(p["search"]["pruned"] for p in platforms.values())
    out.append(
        f"A quick configuration search (`twinbench recommend --quick`'s grid) simulated {evaluated:,} configurations "
        f"({pruned:,} more pruned: costlier than the best found, or with no more capacity than one that failed) on the "
        f"traffic of *At your traffic (simulated)* with this run's measured inputs, in {search['elapsed_s']:.1f} s of "
        f"its {search['budget_s']:g} s budget. SLO: {_slo_text(rec['slo'])} (429 throttled, 503 rejected). *shipped* "
        "= the settings of serverless.yml and k8s/base, Lambda's concurrency caps included. Every figure in this "
        "section is **simulated**, none measured on AWS; a configuration that misses the SLO is shown with its "
        "errors and is not ranked on cost.")
    out += ["", "| platform | settings | configuration | meets the SLO | monthly cost, USD (simulated) | "
            "p50 / p99 ms (simulated) | cold starts (simulated) | errors (simulated) |",
            "|---|---|---|---|---|---|---|---|"]
    for name, p in platforms.items():
        out.append(_row(name, "shipped", p["shipped"], slo))
        if p["feasible"]:
            out.append(_row(name, "**best**", p["best"], slo))
        else:
            out.append(_row(name, "closest (none meets)", p.get("closest"), slo))
    out.append("")
    fargate = ((platforms.get("kubernetes") or {}).get("best") or {}).get("fargate_cost_usd_per_month")
    if fargate is not None:
        out += [f"EKS on Fargate for the best Kubernetes configuration's pod-hours (simulated): ${fargate:,.2f}/month.", ""]
    if search["budget_reached"]:
        out += [f"> The search stopped at its {search['budget_s']:g} s budget with candidates left: the *best* rows "
                "are the best found, not necessarily the best of the grid.", ""]
    out += [f"**Verdict at their best (simulated):** {rec['verdict']['text']}. "
            f"{_shipped_sentence(platforms, rec['verdict']['winner'], slo)}", ""]
    out += [f"Search it again or write the deployable files: {_command(search, ' --write DIR')} "
            "(`DIR/lambda-params.json` for `scripts/deploy_lambda.sh --params-file`, `DIR/k8s/` for `kubectl apply -k`; "
            "without `--quick`, the whole grid).", ""]
    return out
