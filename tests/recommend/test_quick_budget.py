"""The bench's entry point: the quick grid within a time budget, saying when it stopped there."""

from __future__ import annotations

import time

from twinbench.recommend.document import render_text
from twinbench.recommend.run import quick_search
from twinbench.simulate.slo import Slo

from .conftest import base_config


def test_the_quick_search_stops_at_its_budget_and_says_so():
    base = base_config("--profile", "diurnal", "--rps", "10", "--minutes", "1440")  # ~0.5 s per simulation here
    started = time.perf_counter()
    rec = quick_search(base, Slo(100.0), budget_s=2.0)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0 + 1.5  # no candidate starts that would end after the deadline (slowest one so far)
    searches = rec.doc["platforms"]
    assert any(p["search"]["budget_reached"] for p in searches.values())
    assert all(not p["search"]["exhaustive"] for p in searches.values())
    assert "stopped at the time budget: the best found so far" in render_text(rec.doc)
    winner = rec.doc["verdict"]["winner"]
    if winner is not None:  # what it found is still judged against the SLO
        assert searches[winner]["best"]["meets_slo"]
