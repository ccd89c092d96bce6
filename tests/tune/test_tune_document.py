"""The tune document from synthetic size runs: valid against its schema, picks, warnings, the table,
report.md (which generator produced each figure and its CPU) and the figure."""

from __future__ import annotations

from pathlib import Path

import pytest
from twinbench.results import formats
from twinbench.results.document import validate
from twinbench.results.documents import RunDocument
from twinbench.tune.document import TuneSettings, build_payload
from twinbench.tune.observations import ColdObservation, CpuMeter, SizeRun
from twinbench.tune.plots import duration_and_cost
from twinbench.tune.report import render_markdown, render_table

ENV = {"collected_at": "2026-12-01T00:00:00+00:00", "cpu_model": "test", "cpu_count": 2, "cpus_usable": 2,
       "python": "3.11", "libraries": {}, "git": {"commit": "abc", "dirty": False}, "load_average_1_5_15": [0.1, 0.1, 0.1]}


def _settings(memory=(128, 1769, 10240), mode="local") -> TuneSettings:
    return TuneSettings(mode=mode, profile={"name": "smoke", "memory_mb": list(memory), "cold": 1, "warmup": 0, "warm": 5},
                        memory_mb=tuple(memory), rps=20.0, balanced_weight=0.5, discard_top_bottom=0.2,
                        architecture="x86_64", keep_alive_s=300.0, gap_ms=0.0, target={"kind": "test"})


def _run(memory: int, warm: list[int], init: float | None = 500.0, cores: float = 0.1) -> SizeRun:
    run = SizeRun(memory_mb=memory, warm_billed_ms=warm, warm_duration_ms=[w - 0.4 for w in warm], warmup_discarded=0)
    if init is not None:
        run.cold.append(ColdObservation("r", 200, init, 1.2, int(init) + 2, True))
    phase = {"wall_s": 1.0, "generator_cpu_s": cores, "generator_cores": cores, "helper_cpu_s": 0.01, "helper_cores": 0.01}
    run.cpu = {"generator": "test generator", "measure": "getrusage", "helper": "front",
               "phases": {"cold": dict(phase), "warm": dict(phase)}}
    run.cpu_quota = {"cpu_quota_applied": True}
    return run


def _doc(runs, settings=None, interrupted=False) -> dict:
    payload = build_payload(runs, settings or _settings(), generator="test generator", wall_s=3.0,
                            status="interrupted" if interrupted else "complete")
    return RunDocument(payload, created="2026-12-01T00:00:00+00:00", environment=ENV, interrupted=interrupted).to_dict()


def test_a_document_validates_and_picks():
    doc = _doc([_run(128, [60, 61, 62, 59, 200]), _run(1769, [3, 3, 4, 3, 3], init=200.0), _run(10240, [3, 3, 3, 3, 3])])
    validate(doc, expected=formats.TUNE)
    assert doc["sizes"][0]["warm"]["average_billed_ms"] == pytest.approx(61.0)  # int(5 x 0.2) = 1 dropped: 59, 200
    assert doc["picks"]["cost"]["memory_mb"] == 1769  # 61 ms x 0.125 GB costs more than 3 ms x 1.73 GB
    assert doc["picks"]["speed"]["memory_mb"] == 1769  # 10240 MB is as fast and dearer
    assert doc["sizes"][2]["cpu"]["capped_by_machine"] is (doc["sizes"][2]["cpu"]["machine_cores"] < 6)
    assert any("cannot be reached" in limit for limit in doc["limits"])


def test_trouble_becomes_warnings_not_silence():
    bad = _run(256, [], init=None, cores=0.9)
    bad.failures = {"502": 3}
    bad.misclassified_cold = 1
    bad.cpu_quota = {"cpu_quota_applied": False, "detail": "no cgroup"}
    doc = _doc([bad], _settings(memory=(256,)))
    validate(doc, expected=formats.TUNE)
    text = "\n".join(doc["warnings"])
    for expected in ("no successful warm invocation", "no confirmed cold start", "failed invocations",
                     "came back warm", "CPU quota NOT applied", "load generator used 0.90 of a core in the warm"):
        assert expected in text
    assert doc["picks"] is None and doc["sizes"][0]["cost"] is None


def test_table_report_and_figure(tmp_path: Path):
    doc = _doc([_run(128, [20, 21, 22, 19, 80]), _run(1769, [3, 3, 4, 3, 3])], _settings(memory=(128, 1769)),
               interrupted=True)
    table = render_table(doc)
    assert "pick     cost" in table and "pick balanced" in table and "INTERRUPTED" in table
    assert "free tier" in table
    report = render_markdown(doc)
    assert "Which generator produced each figure" in report and "test generator" in report
    assert "generator CPU s" in report and "| 128 | warm |" in report and "What this machine cannot reproduce" in report
    name = duration_and_cost(doc, tmp_path)
    assert name and (tmp_path / name).stat().st_size > 10_000


def test_cpu_meter_measures_this_process_phase_by_phase():
    meter = CpuMeter("spin")
    with meter.phase("warm"):
        total = 0
        for i in range(300_000):
            total += i * i
    with pytest.raises(RuntimeError), meter.phase("cold"):
        raise RuntimeError("recorded anyway")
    warm = meter.result["phases"]["warm"]
    assert warm["generator_cpu_s"] > 0 and warm["generator_cores"] > 0
    assert "cold" in meter.result["phases"] and meter.result["helper"] is None
