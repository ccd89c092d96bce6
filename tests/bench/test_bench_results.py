"""results.json schema, the report rendered from it, and `twinbench report`."""

from __future__ import annotations

import copy
import json

import pytest
from twinbench.__main__ import main
from twinbench.measure.loadgen import Outcome, step_result
from twinbench.measure.scenarios import PROFILES, burst_timeline, profile_dict
from twinbench.measure.stats import summarize
from twinbench.results import document as results
from twinbench.results import envinfo, formats
from twinbench.results.documents import BenchResults, RunDocument

GEN = {"cpu_fraction": 0.2, "send_lag_p99_ms": 0.5, "send_lag_max_ms": 1.0, "bottleneck": False}


def _outcomes(latencies, status=200, cold=None):
    return [Outcome(status=status, latency_ms=v, service_ms=v, send_lag_ms=0.1, done_s=i * 0.01, cold=cold)
            for i, v in enumerate(latencies)]


def _doc() -> dict:
    """A small but complete results document built with the bench's own aggregation code."""
    fast = [1.0 + (i % 7) * 0.1 for i in range(400)]
    slow = [3.0 + (i % 11) * 0.3 for i in range(400)]
    scenarios: dict = {"cold_start": {}, "warm": {}, "scalability": {}, "burst": {}}
    for name, lat, cold_ms in (("container", fast, 800.0), ("lambda", slow, 400.0)):
        scenarios["cold_start"][name] = {
            "skipped": False, "n_requested": 3, "n_valid": 3, "n_dropped_misclassified": 0, "n_failed": 0,
            "failure_statuses": [], "first_response": summarize([cold_ms, cold_ms + 10, cold_ms + 20]),
            "init": summarize([cold_ms - 5] * 3), "first_request": summarize([12.0] * 3),
            "samples": [{"first_response_ms": cold_ms, "init_ms": cold_ms - 5, "first_request_ms": 12.0,
                         "verified_cold": True}] * 3,
        }
        scenarios["warm"][name] = {"n_warmup": 10, "warmup_samples_ms": [5.0] * 10, "warmup_cold_starts": 0,
                                   "sent": 400, "errors": 0, "cold_starts": 0, "latency": summarize(lat),
                                   "samples_ms": lat}
        steps = [step_result(_outcomes([v * k for v in lat[:100]]), GEN, offered_rps=r, duration_s=1.0)
                 for k, r in ((1, 50.0), (2, 100.0), (60, 200.0))]
        conc = [step_result(_outcomes(lat[:100]), GEN, concurrency=4, duration_s=1.0)]
        scenarios["scalability"][name] = {"slo_ms": 100.0, "knee_rps": 100.0, "knee_definition": "...",
                                          "max_achieved_rps": 150.0, "rate_steps": steps, "concurrency_steps": conc}
        outs = _outcomes(lat[:100], cold=(name == "lambda"))
        b = step_result(outs, GEN, offered_rps=100.0, duration_s=1.0)
        b.update(idle_s=1.0, idle_action=None,
                 timeline=burst_timeline(outs, 0.25, 100.0, [i / 100 for i in range(100)]))
        b["time_to_steady_s"] = b["timeline"]["time_to_steady_s"]
        scenarios["burst"][name] = b
    payload = BenchResults(
        run={"id": "20260101T000000Z", "status": "ok", "started_at": "2026-01-01T00:00:00+00:00",
                "finished_at": "2026-01-01T00:01:00+00:00", "duration_s": 60.0, "argv": ["bench"],
                "profile": profile_dict(PROFILES["smoke"]),
                "settings": {"profile": "smoke", "slo_ms": 100.0, "targets": ["lambda", "container"],
                             "scenarios": ["cold", "warm", "scalability", "burst"],
                             "lambda_runtime": "awslambdaric", "container_runtime": "gunicorn"}},
        targets={n: {"name": n, "kind": n, "mode": "local", "runtime": "x", "url": "http://127.0.0.1:1",
                     "notes": [], "config": {}} for n in ("lambda", "container")},
        scenarios=scenarios,
        lambda_reports={"lambda": {"n": 2, "n_cold": 1, "memory_size_mb": 1024,
                                      "billed_duration_warm": summarize([4.0]), "duration_warm": summarize([3.2]),
                                      "init_duration": summarize([390.0]), "max_memory_used_mb": 90,
                                      "raw": [{"request_id": "a", "duration_ms": 3.2, "billed_duration_ms": 4,
                                               "memory_size_mb": 1024, "max_memory_used_mb": 90,
                                               "init_duration_ms": None},
                                              {"request_id": "b", "duration_ms": 20.0, "billed_duration_ms": 21,
                                               "memory_size_mb": 1024, "max_memory_used_mb": 90,
                                               "init_duration_ms": 390.0}],
                                      "raw_truncated": False}},
    )
    return RunDocument(payload, created="2026-01-01T00:00:00+00:00", environment=envinfo.collect()).to_dict()


def test_a_complete_document_is_valid():
    results.validate(_doc())


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("environment"),
    lambda d: d["run"].update(status="great"),
    lambda d: d["scenarios"]["warm"]["lambda"]["latency"].pop("p99_ms"),
    lambda d: d["scenarios"]["scalability"]["container"]["rate_steps"][0]["generator"].pop("bottleneck"),
    lambda d: d["scenarios"].update(mystery={}),
    lambda d: d["scenarios"]["cold_start"]["lambda"].pop("n_dropped_misclassified"),
    lambda d: d["scenarios"]["warm"]["lambda"]["samples_ms"].append(-1.0),
])
def test_schema_rejects_broken_documents(mutate):
    doc = copy.deepcopy(_doc())
    mutate(doc)
    with pytest.raises(results.ResultsError):
        results.validate(doc)


def test_skipped_cold_start_needs_a_reason():
    doc = _doc()
    doc["scenarios"]["cold_start"]["lambda"] = {"skipped": True, "reason": "remote"}
    results.validate(doc)
    doc["scenarios"]["cold_start"]["lambda"] = {"skipped": True}
    with pytest.raises(results.ResultsError):
        results.validate(doc)


def test_write_load_round_trip_and_version_check(tmp_path):
    doc = _doc()
    doc["scenarios"]["warm"]["lambda"]["latency"]["mean_ms"] = float("nan")  # written as null
    results.write(doc, tmp_path)
    back = results.load(tmp_path)
    assert back["scenarios"]["warm"]["lambda"]["latency"]["mean_ms"] is None
    assert (back["format"], back["version"]) == ("twinbench.results", formats.RESULTS.version)
    (tmp_path / "results.json").write_text(json.dumps({**back, "version": formats.RESULTS.version + 1}))
    with pytest.raises(results.ResultsError, match="newer than this twinbench reads"):
        results.load(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({**back, "format": "twinbench.soak"}))
    with pytest.raises(results.ResultsError, match="not twinbench.results"):
        results.load(tmp_path)


def _version_1(doc: dict) -> dict:
    """The same run as results.json version 1 wrote it: ``schema_version`` "1.0", no envelope keys."""
    old = {k: v for k, v in doc.items() if k not in ("format", "version", "created", "interrupted")}
    return {"schema_version": "1.0", **old}


def test_a_version_1_results_folder_still_loads_validates_and_renders(tmp_path, capsys):
    from twinbench.cost.from_results import cost_section

    doc = _version_1(_doc())
    doc["cost"] = cost_section(doc, traffic_rps=10.0)
    (tmp_path / "results.json").write_text(json.dumps(doc))
    assert results.load(tmp_path)["schema_version"] == "1.0"
    results.validate(doc)  # against the frozen schemas/results-1.schema.json
    assert main(["report", "--validate", str(tmp_path)]) == 0
    assert "## Summary" in (tmp_path / "report.md").read_text()
    with pytest.raises(results.ResultsError):  # version 1 is not version 2 with keys missing
        results.validate({**doc, "format": "twinbench.results", "version": 2})


def test_report_renders_every_section_and_plot(tmp_path):
    from twinbench.cost.from_results import cost_section
    from twinbench.report.markdown import render_folder, summary_table

    doc = _doc()
    doc["cost"] = cost_section(doc, traffic_rps=10.0)
    assert doc["cost"]["skipped"] is False
    results.validate(doc)
    report = render_folder(tmp_path, doc).read_text()
    for heading in ("## Summary", "## Recommendation", "## Cold start", "## Warm latency", "## Scalability",
                    "## Burst", "## Monthly cost", "## Limits of local measurement", "## Environment"):
        assert heading in report
    assert "Break-even vs EKS" in report
    for png in ("latency_cdf.png", "scalability.png", "cold_start.png", "cost.png", "burst.png"):
        assert (tmp_path / png).stat().st_size > 1000
    table = summary_table(doc)
    assert "warm latency" in table and "knee" in table and "lambda" in table


def test_report_cli_rerenders_from_results_json(tmp_path, capsys):
    results.write(_doc(), tmp_path)
    assert main(["report", "--validate", "--print", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").exists()
    assert "warm latency" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing")]) == 2


def _cloudwatch_doc() -> dict:
    dist = {"n": 4, "min": 300.0, "p50": 350.0, "p90": 420.0, "p99": 430.0, "max": 431.0, "mean": 360.0}
    warm = {"n": 1000, "min": 2.0, "p50": 3.1, "p90": 4.0, "p99": 9.0, "max": 20.0, "mean": 3.4}
    return {
        "format": "twinbench.cloudwatch", "version": formats.CLOUDWATCH.version,
        "target": {"function_name": "twinserve-dev-predict", "region": "us-east-1", "memory_size_mb": 1024},
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:10:00Z", "duration_s": 600},
        "lambda_metrics": {"invocations_count": 1004, "duration_p50_ms": 3.2, "duration_p99_ms": 40.0},
        "api_metrics": {"count": 1004, "latency_p50_ms": 12.0, "latency_p99_ms": 60.0,
                        "integration_latency_p50_ms": 8.0, "integration_latency_p99_ms": 50.0},
        "reports": {"count": 1004, "cold_start_count": 4, "warm_duration_ms": warm, "init_duration_ms": dist},
        "cost": {"compute_usd_per_gb_s": 0.0000166667, "requests_usd_per_million": 0.2, "requests_count": 1004,
                 "billed_gb_s": 5.5, "total_usd": 0.0001}, "warnings": [],
    }


def _kubectl_doc() -> dict:
    return {
        "format": "twinbench.kubectl", "version": formats.KUBECTL.version,
        "pods": [{"name": "p1", "image_pull_s": 4.0}],
        "pods_summary": {"count": 2, "ready_count": 2, "restarts_total": 0, "crash_looping_count": 0,
                         "ready_s": {"n": 2, "p50": 9.0, "p90": 11.0, "max": 11.0},
                         "scheduled_s": {"n": 2, "p50": 0.0, "p90": 1.0, "max": 1.0},
                         "container_started_s": {"n": 2, "p50": 6.0, "p90": 7.0, "max": 7.0}},
        "top": {"available": False, "message": "metrics-server absent"},
        "hpas": [{"name": "predict", "min_replicas": 2, "max_replicas": 10, "current_replicas": 4,
                  "desired_replicas": 4, "scaling_events": [{"time": "2026-01-01T00:03:00Z", "new_size": 4}]}],
        "timeline": {"interval_s": 5, "samples": [
            {"t_s": 0, "pods_ready": 2, "hpa": {"predict": {"desired_replicas": 2}}},
            {"t_s": 5, "pods_ready": 2, "hpa": {"predict": {"desired_replicas": 4}}},
            {"t_s": 10, "pods_ready": 3, "hpa": {"predict": {"desired_replicas": 4}}},
            {"t_s": 25, "pods_ready": 4, "hpa": {"predict": {"desired_replicas": 4}}}]},
        "warnings": [],
    }


def test_provider_sections_appear_only_with_collector_output(tmp_path):
    from twinbench.cost.from_results import cost_section
    from twinbench.report.markdown import render_folder

    doc = _doc()
    doc["cost"] = cost_section(doc, traffic_rps=10.0)
    assert "Provider-side" not in render_folder(tmp_path, doc).read_text()
    (tmp_path / "cloudwatch.json").write_text(json.dumps(_cloudwatch_doc()))
    (tmp_path / "kubectl.json").write_text(json.dumps(_kubectl_doc()))
    report = render_folder(tmp_path, doc).read_text()
    for text in ("## Provider-side figures", "CloudWatch vs client", "API Gateway Latency", "Init Duration, cloud vs local",
                 "measured / predicted", "pod start phases", "local: process start -> ready", "HPA reaction",
                 "**20 s**"):
        assert text in report, text
    # A version-1 collector document (``"schema": "twinbench.kubectl/1"``) renders the same.
    legacy = {k: v for k, v in _kubectl_doc().items() if k not in ("format", "version")}
    (tmp_path / "kubectl.json").write_text(json.dumps({"schema": "twinbench.kubectl/1", **legacy}))
    assert "HPA reaction" in render_folder(tmp_path, doc).read_text()
    # Another kind, or a newer version, is named in a note instead of misread.
    (tmp_path / "kubectl.json").write_text(json.dumps({**_kubectl_doc(), "version": 99}))
    assert "`kubectl.json` ignored: twinbench.kubectl version 99 is newer" in render_folder(tmp_path, doc).read_text()


def test_hpa_reaction_needs_a_completed_scale_up():
    from twinbench.report.sections import hpa_reaction_s

    assert hpa_reaction_s(_kubectl_doc()["timeline"]) == 20
    assert hpa_reaction_s(None) is None
    stuck = {"samples": [{"t_s": 0, "pods_ready": 1, "hpa": {"h": {"desired_replicas": 3}}}]}
    assert hpa_reaction_s(stuck) is None
