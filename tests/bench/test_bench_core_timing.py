"""``bench-core`` times the core and the raw estimator each in its own warm loop: blocks of calls
alternate (drift hits both alike), single calls never do, and both walk the same rows in step."""

from __future__ import annotations

from twinbench.measure import core_latency
from twinbench.measure.core_latency import BLOCK_CALLS, BLOCK_WARMUP_CALLS, _alternating_blocks
from twinserve_support.paths import REPO
from twinserve_support.prerequisites import require

MODEL = REPO / "model"


def test_core_and_raw_calls_come_in_blocks_on_the_same_rows():
    calls: list[tuple[str, int]] = []
    rows = list(range(7))
    repeats = 2 * BLOCK_CALLS + 5
    core_us, raw_us = _alternating_blocks(lambda r: calls.append(("core", r)), lambda r: calls.append(("raw", r)),
                                          rows, rows, repeats)
    assert len(core_us) == len(raw_us) == repeats
    # Runs of the same kind: never one core call between two raw calls, as a per-call interleave would make.
    runs: list[list[tuple[str, int]]] = []
    for call in calls:
        if runs and runs[-1][0][0] == call[0]:
            runs[-1].append(call)
        else:
            runs.append([call])
    assert [len(r) for r in runs] == [BLOCK_WARMUP_CALLS + BLOCK_CALLS] * 4 + [BLOCK_WARMUP_CALLS + 5] * 2
    assert [r[0][0] for r in runs] == ["core", "raw"] * 3
    timed = [[row for _, row in r[BLOCK_WARMUP_CALLS:]] for r in runs]
    assert timed[0::2] == timed[1::2]  # the i-th timed core call and the i-th raw call: the same row
    assert sum(timed[0::2], []) == [i % len(rows) for i in range(repeats)]  # round-robin over every row


def test_a_registered_model_is_measured_on_its_rows_and_says_how(capsys):
    require(MODEL / "samples.json", "make model")
    assert core_latency.run_bench_registered([MODEL], repeats=BLOCK_CALLS, cold_repeats=1) == 0
    out = capsys.readouterr().out
    assert "measured locally" in out and "registered rows round-robin; load average [" in out
    assert f"alternating blocks of {BLOCK_CALLS} calls" in out
