"""The report's recommendation: which platform to choose at the user's traffic, and why, in one paragraph.

The verdict is decided here and only rendered by ``markdown``: from the configuration search when the
run made one (``best_config``), else from the simulation of the shipped settings, with the per-minute
cost model's paragraph as the measured-inputs cross-check (or alone, when nothing was simulated).
"""

from __future__ import annotations

from twinbench.report import best_config
from twinbench.report.formatting import get, ms, pct

__all__ = ["recommendation", "simulated", "simulated_recommendation", "traffic_text"]


def simulated(doc: dict) -> dict | None:
    """The run's ``simulation`` section when it ran (results.json 2.x, optional)."""
    sim = doc.get("simulation")
    return sim if isinstance(sim, dict) and not sim.get("skipped") and sim.get("document") else None


def traffic_text(sim: dict) -> str:
    """The simulated traffic in words: the trace (and its rescaling) or the constant rate, with its profile."""
    traffic = sim["traffic"]
    prof = sim["document"]["profile"]
    if traffic["source"] == "trace":
        rescaled = f", rescaled to a mean of {traffic['rescaled_to_rps']:g} req/s" if traffic.get("rescaled_to_rps") else ""
        return (f"the trace `{traffic['trace']}`{rescaled} ({prof['minutes']:,} min, mean {prof['mean_rps']:,.2f} req/s, "
                f"peak minute {prof['peak_minute_rps']:,.2f} req/s)")
    return f"a {traffic['source']} {traffic['rps']:g} req/s ({prof['minutes']:,} min simulated, priced x 730 h)"


def _sim_platform_costs(sim: dict) -> dict[str, float]:
    """Monthly cost per platform name (Lambda, EKS, Fargate) from the simulation, for those it ran."""
    plats = sim["document"]["platforms"]
    costs: dict[str, float] = {}
    if "lambda" in plats:
        costs["Lambda"] = plats["lambda"]["cost_usd_per_month"]
    if "kubernetes" in plats:
        costs["EKS"] = plats["kubernetes"]["cost_usd_per_month"]
        fargate = (plats["kubernetes"].get("fargate_cost") or {}).get("total_usd")
        if fargate is not None:
            costs["Fargate"] = fargate
    return costs


def simulated_recommendation(doc: dict, sim: dict, verdict: bool = True) -> str:
    """The recommendation from the simulation at the user's traffic (``verdict=False``: the figures only).

    A platform is ranked on cost only if it meets the SLO (p99 within it, no request dropped or,
    when the simulation carries an SLO, within its error budget): one that drops requests is cheap
    because it drops them, so it is marked as missing the SLO with its errors beside its cost.
    """
    slo = doc["run"]["settings"]["slo_ms"]
    plats = sim["document"]["platforms"]
    costs = _sim_platform_costs(sim)
    if not costs:
        return "No simulated recommendation: the simulation produced no platform."

    def meets(p: dict) -> bool:
        if p.get("slo") is not None:
            return bool(p["slo"]["meets"])
        return p["latency_ms"]["p99"] is not None and p["latency_ms"]["p99"] <= slo and not p["throttled"] \
            and not p["rejected"]

    def errors(p: dict) -> int:
        return int(p.get("throttled", 0)) + int(p.get("rejected", 0))

    owner = {"Lambda": "lambda", "EKS": "kubernetes", "Fargate": "kubernetes"}
    ok = {k: v for k, v in costs.items() if owner.get(k) in plats and meets(plats[owner[k]])}
    cells = []
    for k, v in sorted(costs.items(), key=lambda kv: kv[1]):
        p = plats.get(owner.get(k, ""), {})
        cells.append(f"{k} ${v:,.2f}" if k in ok else
                     f"{k} ${v:,.2f} (misses the SLO: {errors(p):,} errors, p99 {ms(p['latency_ms']['p99'])} ms)")
    cost_text = ", ".join(cells)
    if ok:
        cheapest = min(ok, key=ok.get)
        parts = [f"**At your traffic ({traffic_text(sim)}), {cheapest} is the cheapest that meets the {slo:g} ms "
                 f"SLO (simulated)**: {cost_text} per month."]
    else:
        cheapest = ""
        parts = [f"**At your traffic ({traffic_text(sim)}), no platform meets the {slo:g} ms SLO as shipped "
                 f"(simulated)**: {cost_text} per month; `make recommend` searches for settings that do."]
    lam, kube = plats.get("lambda"), plats.get("kubernetes")
    if lam:
        parts.append(f"Lambda (simulated): {lam['cold_starts']:,} cold starts ({pct(lam.get('cold_start_fraction', 0.0))} "
                     f"of requests), {lam['throttled']:,} throttled, p99 {ms(lam['latency_ms']['p99'])} ms, "
                     f"at most {lam['max_environments']:,} environments.")
    if kube:
        parts.append(f"Kubernetes (simulated): {kube['rejected']:,} rejected, p99 {ms(kube['latency_ms']['p99'])} ms, "
                     f"at most {kube['max_replicas']:,} replicas on {kube['max_nodes']:,} nodes.")
    if not verdict:
        return " ".join(parts)
    if cheapest == "Lambda":
        text = "Lambda: the cheapest of the platforms that meet the SLO at your traffic"
    elif cheapest:
        text = f"the container ({cheapest}): the cheapest of the platforms that meet the SLO at your traffic"
    else:
        text = "neither platform as shipped: both miss the SLO in simulation; size up first (`make recommend`)"
    parts.append(f"**Recommendation (from the simulation):** {text}.")
    return " ".join(parts)


def recommendation(doc: dict) -> str:
    """One paragraph naming the numbers that decide, or what is missing to decide.

    With a configuration search at the user's traffic the verdict compares the platforms at their
    best (``best_config``) and the shipped settings' simulation follows as figures; without one, the
    verdict comes from the shipped settings' simulation. The per-minute cost model's paragraph
    follows as the measured-inputs cross-check.
    """
    sim = simulated(doc)
    model = _cost_model_recommendation(doc)
    if sim is None:
        return model
    cross_check = "\n\n" + "Per-minute cost model (for comparison): " + model
    best = best_config.recommendation(doc)
    if best is None:
        return simulated_recommendation(doc, sim) + cross_check
    return best + "\n\n" + "As shipped: " + simulated_recommendation(doc, sim, verdict=False) + cross_check


def _cost_model_recommendation(doc: dict) -> str:
    """The per-minute cost model's paragraph (the recommendation before the simulator existed)."""
    sc = doc["scenarios"]
    parts: list[str] = []
    cost = doc.get("cost")
    warm_l = get(sc, "warm", "lambda", "latency")
    warm_c = get(sc, "warm", "container", "latency")
    cold_l = get(sc, "cold_start", "lambda", "first_response")
    knee_c = get(sc, "scalability", "container", "knee_rps")
    slo = doc["run"]["settings"]["slo_ms"]
    if cost and not cost.get("skipped"):
        comp = cost["comparison"]
        rps = cost["traffic_rps"]
        lam, eks = comp["lambda_cost"]["monthly_usd"], comp["eks_cost"]["monthly_usd"]
        be = comp["break_even_eks"]["rps"]
        cold_frac = comp["cold_starts"]["cold_start_fraction"]
        cheaper = "Lambda" if lam < eks else "the container on EKS"
        be_text = f"{be:.1f} req/s" if be else "beyond the searched range" if be is None else "never (EKS is always cheaper)"
        parts.append(
            f"**At a mean of {rps:g} req/s, {cheaper} is cheaper**: Lambda ${lam:,.2f}/month vs EKS ${eks:,.2f}/month; "
            f"Lambda stays cheaper up to **{be_text}** (break-even vs EKS, from a billed duration of "
            f"{cost['inputs']['billed_duration_ms']:.1f} ms at {cost['inputs']['memory_mb']} MB and "
            f"{cost['inputs']['pod_rps']:g} req/s per pod at the SLO)."
        )
        if cold_l and cold_l.get("n"):
            parts.append(
                f"The price of Lambda is its cold start: {ms(cold_l['median_ms'])} ms median "
                f"(p99 {ms(cold_l['p99_ms'])} ms, n={cold_l['n']}) on the first request of each new environment, "
                f"expected on {pct(cold_frac)} of requests at this traffic (cost model's keep-alive estimate)."
            )
    if warm_l and warm_c and warm_l.get("n") and warm_c.get("n"):
        parts.append(
            f"Warm, the two are {'close' if abs(warm_l['median_ms'] - warm_c['median_ms']) < 2 else 'apart'}: "
            f"median {ms(warm_l['median_ms'])} ms (Lambda) vs {ms(warm_c['median_ms'])} ms (container), "
            f"p99 {ms(warm_l['p99_ms'])} vs {ms(warm_c['p99_ms'])} ms."
        )
    if knee_c:
        parts.append(f"One pod (the k8s limits) sustains {knee_c:g} req/s with p99 under {slo:g} ms.")
    if cost and not cost.get("skipped"):
        be = cost["comparison"]["break_even_eks"]["rps"]
        cold_p99 = cold_l["p99_ms"] if cold_l and cold_l.get("n") else None
        if cold_p99 is not None and cold_p99 > slo:
            parts.append(
                f"**Recommendation:** below ~{be:.0f} req/s choose Lambda if an occasional {ms(cold_p99)} ms first "
                f"request is acceptable (it exceeds the {slo:g} ms SLO; provisioned concurrency removes it at a price); "
                "above it, or when every request must meet the SLO, choose the container." if be else
                "**Recommendation:** the container: it is cheaper at every rate searched."
            )
        else:
            parts.append(f"**Recommendation:** Lambda below ~{be:.0f} req/s, the container above." if be else
                         "**Recommendation:** the container: it is cheaper at every rate searched.")
    else:
        reason = cost.get("reason") if cost else "the cost model did not run"
        parts.append(f"No cost recommendation: {reason}.")
    return " ".join(parts)
