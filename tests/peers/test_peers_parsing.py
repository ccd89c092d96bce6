"""bench-peers without servers: wrk output parsing, medians over rounds, ratios and PASS/FAIL."""

from __future__ import annotations

import json

import pytest
from twinbench.measure import wrk
from twinbench.peers import compare, servers

WRK_TEXT = """Running 10s test @ http://127.0.0.1:8080/predict
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    40.12ms   20.33ms 167.20ms   70.00%
    Req/Sec   354.20     50.10   450.00     68.00%
  Latency Distribution
     50%   40.30ms
     75%   52.00ms
     90%   80.00ms
     99%  167.20ms
  7052 requests in 10.00s, 1.20MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec:    705.19
Transfer/sec:    122.99KB
"""

DONE_LINE = ('TWINBENCH_WRK {"requests":7052,"duration_us":10000000,"bytes":1258291,'
             '"errors":{"connect":0,"read":3,"write":0,"status":12,"timeout":2},'
             '"latency_us":{"p50":40300,"p90":80000,"p99":167200,"p999":190000,"min":700,"max":201000,'
             '"mean":40120.5,"stdev":20330.1}}')


def test_parse_wrk_text_reads_rate_percentiles_and_errors() -> None:
    parsed = wrk.parse_wrk_text(WRK_TEXT)
    assert parsed["rps"] == 705.19
    assert parsed["requests"] == 7052
    assert parsed["duration_s"] == pytest.approx(10.0)
    assert parsed["latency_ms"] == {"p50": 40.3, "p75": 52.0, "p90": 80.0, "p99": 167.2}
    assert parsed["errors"] == {"connect": 0, "read": 3, "write": 0, "timeout": 2, "status": 12}


@pytest.mark.parametrize(("text", "ms"), [("812.00us", 0.812), ("1.20ms", 1.2), ("2.01s", 2010.0), ("1.00m", 60000.0)])
def test_wrk_durations_in_every_unit(text: str, ms: float) -> None:
    assert wrk._ms(text) == pytest.approx(ms)


def test_parse_wrk_text_without_result_raises() -> None:
    with pytest.raises(ValueError, match="Requests/sec"):
        wrk.parse_wrk_text("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_done_line_wins_and_rps_counts_only_successes() -> None:
    step = wrk.wrk_step(WRK_TEXT + DONE_LINE + "\n")
    assert step["source"] == "wrk done() json"
    assert step["ok"] == 7052 - 12
    assert step["rps"] == pytest.approx((7052 - 12) / 10.0)
    assert (step["p50_ms"], step["p99_ms"], step["p999_ms"]) == (40.3, 167.2, 190.0)


def test_text_report_is_the_fallback() -> None:
    step = wrk.wrk_step(WRK_TEXT)
    assert step["source"] == "wrk text report"
    assert step["p99_ms"] == 167.2
    assert step["rps"] == pytest.approx(704.0)


def test_garbled_done_line_is_ignored() -> None:
    assert wrk.parse_wrk_done_line("TWINBENCH_WRK {not json\n") is None


def test_lua_script_embeds_body_and_reports_in_microseconds() -> None:
    body = json.dumps({"features": [1.5, 2.0]}).encode()
    script = wrk.wrk_lua_script(body)
    assert '[[{"features": [1.5, 2.0]}]]' in script
    assert 'wrk.method = "POST"' in script and "latency:percentile(99)" in script
    with pytest.raises(ValueError):
        wrk.wrk_lua_script(b'{"x": [[1]]}')


def _cell(rps: float, p99: float) -> dict:
    return {"rps": rps, "p50_ms": p99 / 3, "p99_ms": p99, "errors": {"status": 0}}


def test_median_summary_takes_medians_and_flags_spread() -> None:
    summary = compare.median_summary([_cell(100, 10), _cell(300, 12), _cell(110, 11)])
    assert summary["rps"] == 110 and summary["p99_ms"] == 11
    assert summary["n_rounds"] == 3
    assert summary["unstable"] is True  # (300 - 100) / 110 > 20 %
    assert compare.median_summary([_cell(100, 10), _cell(105, 10)])["unstable"] is False


def _summary(twin: tuple[float, float], naive: tuple[float, float], batch: tuple[float, float] | None) -> dict:
    out = {"twinserve": {32: compare.median_summary([_cell(*twin)])},
           "naive": {32: compare.median_summary([_cell(*naive)])}}
    if batch:
        out["mlserver-batch"] = {32: compare.median_summary([_cell(*batch)])}
    return out


def test_rf_targets_pass_and_fail_at_their_limits() -> None:
    verdicts = compare.evaluate_targets("rf", _summary((900, 40), (300, 80), (301, 50)))
    by_peer_metric = {(v["peer"], v["metric"]): v for v in verdicts}
    assert by_peer_metric[("naive", "rps")]["verdict"] == "PASS"  # 3.0x exactly
    assert by_peer_metric[("mlserver-batch", "rps")]["verdict"] == "FAIL"  # 2.99x
    assert by_peer_metric[("naive", "p99_ms")]["verdict"] == "PASS"  # 0.5x exactly
    assert by_peer_metric[("naive", "p99_ms")]["ratio"] == 0.5


def test_logreg_targets_and_missing_peer() -> None:
    verdicts = compare.evaluate_targets("logreg", _summary((1500, 41), (1000, 80), None))
    assert [v["verdict"] for v in verdicts] == ["PASS", "FAIL"]  # 1.5x rps; p99 0.5125x
    missing = compare.evaluate_targets("rf", _summary((900, 40), (300, 80), None))
    assert {v["peer"]: v["verdict"] for v in missing if v["metric"] == "rps"}["mlserver-batch"] == "MISSING"


def test_ratio_handles_missing_and_zero() -> None:
    assert compare.ratio(None, 1.0) is None and compare.ratio(1.0, 0) is None
    assert compare.ratio(3.0, 2.0) == 1.5


def test_table_shows_every_server_keep_alive_and_verdicts() -> None:
    summary = _summary((900, 40), (300, 80), (200, 90))
    verdicts = compare.evaluate_targets("rf", summary)
    table = compare.render_table("rf", summary, ["twinserve", "naive", "mlserver-batch"],
                               {"twinserve": True, "naive": False, "mlserver-batch": True}, verdicts)
    naive_line = next(line for line in table.splitlines() if line.startswith("naive"))
    assert " no " in naive_line and "3.00x" in naive_line and "0.500x" in naive_line
    assert table.count("[PASS]") == 3


def test_mlserver_templates_render_typed_values(tmp_path) -> None:
    rendered = servers.render_mlserver(tmp_path, "rf", tmp_path / "model.joblib", (32, 0.005))
    written = json.loads((tmp_path / "model-settings.json").read_text())
    assert written["max_batch_size"] == 32 and written["max_batch_time"] == 0.005
    assert written["parameters"]["uri"].endswith("model.joblib")
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert isinstance(settings["http_port"], int) and settings["host"] == "127.0.0.1"
    assert rendered["http_port"] == settings["http_port"]


@pytest.mark.parametrize(("answer", "label"), [
    ({"outputs": [{"name": "predict", "data": [1]}]}, 1),
    ({"prediction": [0]}, 0),
    ({"predictions": [{"label": 1, "probabilities": [0.1, 0.9]}]}, 1),
    ({"predictions": [1]}, 1),
    ("garbage", None),
])
def test_predicted_label_from_each_answer_shape(answer, label) -> None:
    assert servers.predicted_label("x", answer) == label


def test_cli_registers_bench_peers_with_a_run_function() -> None:
    from twinbench.__main__ import build_parser

    args = build_parser().parse_args(["bench-peers", "--fast", "--models", "rf", "--servers", "twinserve,naive"])
    assert args.func.__module__ == "twinbench.cli.peers"
    assert args.models == ("rf",) and args.servers == ("twinserve", "naive") and args.fast
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench-peers", "--servers", "bentoml"])
