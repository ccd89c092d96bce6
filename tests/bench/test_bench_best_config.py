"""The bench's quick configuration search at your traffic: stored in results.json, rendered in the report.

The search runs for real (``search_at_traffic`` on a results document built by the bench's own
aggregation code, a constant 10 req/s hour: about a second); the verdict's wording is then checked on
documents altered to the cases that matter (a platform missing the SLO, none meeting it).
"""

from __future__ import annotations

import copy
import json

import pytest
from test_bench_results import _doc
from twinbench.__main__ import main
from twinbench.bench.at_traffic import search_at_traffic, simulate_at_traffic
from twinbench.recommend.document import verdict
from twinbench.report.markdown import render_markdown, summary_table
from twinbench.report.recommendation import recommendation
from twinbench.results import document as results
from twinbench.simulate.slo import Slo

SLO = Slo(100.0)  # the bench's default SLO: p99 <= 100 ms, errors <= 0.1 %


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A results document with the simulation at 10 req/s and the quick search, as the bench stores them."""
    folder = tmp_path_factory.mktemp("run")
    doc = _doc()
    (folder / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    sim = simulate_at_traffic(folder / "results.json", rps=10.0, shape="constant", trace=None)
    assert not sim["skipped"], sim.get("reason")
    sim["search"] = search_at_traffic(folder / "results.json", sim, slo_ms=100.0, budget_s=60.0)
    doc["simulation"] = sim
    return doc


def _section(report: str) -> str:
    start = report.index("## Best configuration at your traffic (simulated)")
    return report[start:report.index("\n## ", start + 1)]


def _with_platforms(doc: dict, edit) -> dict:
    """A copy whose recommendation document was changed by ``edit(platforms)``, its verdict recomputed."""
    doc = copy.deepcopy(doc)
    rec = doc["simulation"]["search"]["document"]
    edit(rec["platforms"])
    rec["verdict"] = verdict(rec["platforms"], SLO)
    return doc


def _misses(fig: dict, binding: list[str], errors: int = 0, p99: float | None = None) -> dict:
    fig = copy.deepcopy(fig)
    fig.update(meets_slo=False, binding=binding, errors=errors, error_fraction=errors / 36_000)
    if p99 is not None:
        fig["latency_ms"].update(p99=p99, at_slo_percentile=p99)
    return fig


def test_the_search_is_stored_in_results_json_and_within_its_budget(searched):
    results.validate(searched)  # the optional simulation.search property
    search = searched["simulation"]["search"]
    assert not search["skipped"] and search["budget_s"] == 60.0
    assert search["elapsed_s"] <= 60.0 and not search["budget_reached"]
    rec = search["document"]
    assert rec["format"] == "twinbench.recommendation" and set(rec["platforms"]) == {"lambda", "kubernetes"}
    assert rec["slo"] == {"latency_ms": 100.0, "percentile": 99.0, "error_budget": 0.001}
    assert search["command"][:4] == ["twinbench", "recommend", "--from", str(search["command"][3])]
    assert search["command"][-1] == "--quick" and "--rps" in search["command"]
    # never ranked on cost while missing the SLO: the winner is the cheapest *feasible* best
    feasible = {k: p["best"]["cost_usd_per_month"] for k, p in rec["platforms"].items() if p["feasible"]}
    assert rec["verdict"]["winner"] == min(feasible, key=feasible.get)
    old = copy.deepcopy(searched)
    del old["simulation"]["search"]
    results.validate(old)  # documents written before the search still validate


def test_the_report_shows_the_best_configurations_and_compares_them(searched):
    report = render_markdown(searched, {}, [])
    section = _section(report)
    assert "Every figure in this section is **simulated**" in section
    for name in ("Lambda", "Kubernetes (EKS)"):
        assert f"| {name} | shipped |" in section and f"| {name} | **best** |" in section
    assert "monthly cost, USD (simulated)" in section and "p50 / p99 ms (simulated)" in section
    assert "**Verdict at their best (simulated):**" in section and "--write DIR" in section
    winner = searched["simulation"]["search"]["document"]["verdict"]["winner"]
    names = {"lambda": "Lambda", "kubernetes": "Kubernetes (EKS)"}
    text = recommendation(searched)
    assert text.startswith(f"**Recommendation (simulated; each platform at its best configuration found by a quick "
                           f"search at your traffic, SLO p99 <= 100 ms, errors <= 0.1 % of requests):** {names[winner]}, at ")
    # the shipped settings' simulation follows as figures, without a second verdict
    assert "\n\nAs shipped: **At your traffic" in text and "Recommendation (from the simulation)" not in text
    assert "best configuration at your traffic, simulated" in summary_table(searched)


def test_a_platform_missing_the_slo_is_marked_not_ranked_and_the_verdict_change_said(searched):
    def edit(platforms: dict) -> None:
        kube, lam = platforms["kubernetes"], platforms["lambda"]
        # EKS as shipped is the cheapest but drops requests; no EKS configuration searched meets the SLO
        kube["shipped"] = _misses(kube["shipped"], ["errors"], errors=9_000)
        kube["shipped"]["cost_usd_per_month"] = 1.0
        kube.update(feasible=False, best=None, binding=["errors"],
                    closest=_misses(kube["shipped"], ["errors"], errors=4_000))
        lam["shipped"] = _misses(lam["shipped"], ["latency"], p99=450.0)

    doc = _with_platforms(searched, edit)
    results.validate(doc)
    rec = doc["simulation"]["search"]["document"]
    assert rec["verdict"]["winner"] == "lambda"
    text = recommendation(doc)
    assert "its best configuration found by a quick search at your traffic" in text
    assert ":** Lambda, at " in text
    assert "Kubernetes (EKS) is not ranked on cost: none of its configurations searched meets the SLO (errors binds" in text
    assert "misses the SLO (errors): 4,000 errors" in text
    assert "As shipped, no platform meets the SLO; Kubernetes (EKS) as shipped looks cheapest at $1.00/month but " \
           "misses the SLO (errors): 9,000 errors" in text
    assert "**at their best, the verdict changes**" in text
    section = _section(render_markdown(doc, {}, []))
    assert "| Kubernetes (EKS) | closest (none meets) |" in section
    assert "| **no** (errors) | $1.00 (not ranked: misses the SLO) |" in section
    assert "| Lambda | shipped |" in section and "| **no** (latency) |" in section


def test_when_no_platform_meets_the_slo_neither_is_recommended(searched):
    def edit(platforms: dict) -> None:
        for p in platforms.values():
            p.update(feasible=False, closest=_misses(p["best"], ["latency"], p99=900.0), best=None,
                     binding=["latency"])

    doc = _with_platforms(searched, edit)
    results.validate(doc)
    text = recommendation(doc)
    assert ":** neither platform: no configuration searched meets the SLO." in text
    assert text.count("is not ranked on cost") == 2 and "`make recommend`" in text
    assert "no platform meets the SLO (" in _section(render_markdown(doc, {}, []))


def test_a_traffic_too_long_to_search_is_skipped_with_its_reason(searched, tmp_path):
    doc = copy.deepcopy(searched)
    sim = doc["simulation"]
    (tmp_path / "results.json").write_text(json.dumps(_doc()), encoding="utf-8")
    sim["search"] = search_at_traffic(tmp_path / "results.json", sim, slo_ms=100.0, budget_s=0.01)
    assert sim["search"]["skipped"] and "would not fit in the 0.01 s budget" in sim["search"]["reason"]
    results.validate(doc)
    section = _section(render_markdown(doc, {}, []))
    assert "Not searched: one simulation of this traffic took" in section and "--quick" in section
    # no search: the shipped settings' simulation gives the verdict, as before
    assert "**Recommendation (from the simulation):**" in recommendation(doc)


def test_the_bench_refuses_a_search_budget_out_of_range(capsys):
    with pytest.raises(SystemExit) as refused:  # not a positive number: argparse's usage error
        main(["bench", "--search-budget-s", "0", "--quiet"])
    assert refused.value.code == 2
    assert "--search-budget-s: must be a finite number > 0" in capsys.readouterr().err
    assert main(["bench", "--search-budget-s", "4000", "--quiet"]) == 2  # past the cap: the run's own check
    assert "--search-budget-s must be > 0 and <= 3600" in capsys.readouterr().err
