"""Every result-document kind, produced by its own writer on small synthetic runs, validated against
its schema; each schema's version is the writer's constant (formats.py) and FORMATS.md records it."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from twinbench.aws.report_line import format_report_line
from twinbench.collect import cloudwatch as cw
from twinbench.collect import kubectl as km
from twinbench.measure.loadgen import Outcome
from twinbench.measure.progress import Progress
from twinbench.measure.stats import summarize
from twinbench.reliability import soak
from twinbench.reliability.fuzz import runner as fuzz
from twinbench.reliability.fuzz.settings import FuzzSettings, WrapperReport
from twinbench.results import document as results
from twinbench.results import envinfo, formats
from twinbench.results.documents import BenchResults, DocumentError, PeersResults, RunDocument, SoakResults
from twinbench.results.run_folder import RunFolder

K8S_DATA = Path(__file__).resolve().parents[1] / "data" / "k8s"
FORMATS_MD = Path(formats.__file__).with_name("FORMATS.md")


# -- the constants, the schemas and the written history agree ---------------------------------------


@pytest.mark.parametrize("fmt", formats.ALL, ids=lambda f: f.kind)
def test_each_schema_pins_its_writers_format_and_version(fmt: formats.Format):
    import jsonschema

    schema = json.loads(fmt.schema.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["format"] == {"const": fmt.name}
    assert schema["properties"]["version"] == {"const": fmt.version}
    assert {"format", "version"} <= set(schema["required"])


@pytest.mark.parametrize("fmt", formats.ALL, ids=lambda f: f.kind)
def test_formats_md_records_the_current_version_of_each_kind(fmt: formats.Format):
    text = FORMATS_MD.read_text()
    section = re.search(rf"^## `{re.escape(fmt.name)}`\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"FORMATS.md has no section for {fmt.name}"
    versions = [int(v) for v in re.findall(r"^- \*\*version (\d+)\*\*", section.group(1), re.M)]
    assert versions and max(versions) == fmt.version, (fmt.name, versions)


def test_schema_files_are_the_known_kinds_and_version_1_results():
    files = {p.name for p in formats.SCHEMAS.glob("*.json")}
    expected = {f.schema.name for f in formats.ALL if f.schema.parent == formats.SCHEMAS}
    assert files == expected | {"results-1.schema.json"}


# -- every kind, from its writer ------------------------------------------------------------------


def _ok(doc: dict, fmt: formats.Format) -> dict:
    assert (doc["format"], doc["version"]) == (fmt.name, fmt.version)
    results.validate(doc, expected=fmt)
    return doc


def test_bench_results_through_the_run_folder(tmp_path: Path):
    with RunFolder(formats.RESULTS, root=tmp_path, logs=True) as run:
        assert re.fullmatch(r"\d{8}T\d{6}Z", run.path.name) and run.logs.is_dir()
        payload = BenchResults(run={
            "id": run.path.name, "status": "ok", "started_at": run.created, "finished_at": run.created,
            "duration_s": 0.0, "argv": ["twinbench", "bench"], "profile": {"name": "smoke"},
            "settings": {"profile": "smoke", "slo_ms": 100.0, "targets": ["lambda"], "scenarios": ["warm"],
                         "lambda_runtime": "awslambdaric", "container_runtime": "gunicorn"}})
        payload.scenarios["warm"] = {"lambda": {"n_warmup": 1, "warmup_samples_ms": [2.0], "sent": 3, "errors": 0,
                                                "cold_starts": 0, "latency": summarize([1.0, 2.0, 3.0]),
                                                "samples_ms": [1.0, 2.0, 3.0]}}
        path = run.write(run.document(payload))
    doc = _ok(results.load(path.parent), formats.RESULTS)
    assert doc["interrupted"] is False and doc["environment"]["cpu_count"]
    assert RunDocument.from_dict(doc).to_dict() == doc


def test_peers_document(tmp_path: Path):
    steps = [{"concurrency": 32, "rps": 900.0, "p50_ms": 3.0, "p99_ms": 9.0, "errors": {}}]
    model = {"model": "rf", "labels_agree": True,
             "servers": {"twinserve": {"label": "twinserve", "keep_alive": False, "ready_ms": 800.0,
                                       "rounds": [{"round": 1, "steps": steps}], "sweeps": []}},
             "summary": {}, "targets": [{"target": "rps >= 1.5x naive", "verdict": "PASS"}]}
    env = {**envinfo.collect(), "wrk_version": None, "mlserver_venv": None}
    with RunFolder(formats.PEERS, root=tmp_path, prefix="peers", environment=lambda: env) as run:
        assert run.path.name.startswith("peers-")
        payload = PeersResults(run={"id": run.path.name, "status": "ok", "started_at": run.created,
                                    "finished_at": run.created, "duration_s": 1.0, "argv": [], "targets_met": True,
                                    "settings": {"models": ["rf"], "servers": ["twinserve"], "rounds": 1,
                                                 "wrk_duration_s": 2.0, "warmup_s": 1.0, "concurrencies": [32],
                                                 "sweep_rates_rps": [], "target_concurrency": 32, "fast": True,
                                                 "lambda": False}},
                               models={"rf": model})
        path = run.write(run.document(payload))
    doc = _ok(json.loads(path.read_text()), formats.PEERS)
    assert doc["lambda"] is None and "lambda_" not in doc


def _soak_record(name: str, *_: object) -> dict:
    """What soak_target returns, from the soak's own figure code over synthetic outcomes."""
    outcomes = [Outcome(status=200, latency_ms=2.0 + i % 5, service_ms=2.0, send_lag_ms=0.1, done_s=i * 0.05)
                for i in range(200)]
    wins = soak.windows(outcomes, 2.0)
    samples = [{"t_s": t, "pids": [1], "rss_kb": 1000, "rss_kb_by_pid": {"1": 1000}} for t in (0.0, 5.0, 10.0)]
    return {"target": name, "target_description": {}, "saturation_rps": 60.0, "saturation_source": "given",
            "saturation_steps": [], "offered_rps": 42.0, "ramp": [], "ramp_errors": 0, "duration_s": 10.0,
            "sent": 200, "ok": 200, "errors": 0, "status_counts": {"200": 200}, "achieved_rps": 20.0,
            "latency": summarize([o.latency_ms for o in outcomes]), "window_s": 2.0, "windows": wins,
            "p99_first_window_ms": wins[0]["p99_ms"], "p99_last_window_ms": wins[-1]["p99_ms"],
            "p99_drift_ratio": 1.0, "rss_samples": samples, "rss": soak._rss_growth(samples, 2.0, None),
            "generator": {"bottleneck": False}, "warnings": [], "problems": [], "ok_overall": True}


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The soak reads the request row from the model folder; these runs send nothing."""
    import twinbench.targets

    monkeypatch.setattr(twinbench.targets, "request_body", lambda _path: b"{}")


def test_soak_document_from_soak_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_model: None):
    monkeypatch.setattr(soak, "soak_target", _soak_record)
    settings = soak.SoakSettings(duration_s=10.0, targets=("container", "lambda"), out_dir=tmp_path / "soak-x")
    document = soak.run(settings, Progress(quiet=True))
    doc = _ok(json.loads((tmp_path / "soak-x" / "soak.json").read_text()), formats.SOAK)
    assert doc == document and doc["ok"] is True and [t["target"] for t in doc["targets"]] == ["container", "lambda"]
    assert any(line.startswith("soak: PASS") for line in soak.summary_lines(document))


def test_an_interrupted_soak_writes_what_it_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_model: None):
    def second_is_interrupted(name: str, *args: object) -> dict:
        if name == "lambda":
            raise KeyboardInterrupt
        return _soak_record(name)

    monkeypatch.setattr(soak, "soak_target", second_is_interrupted)
    settings = soak.SoakSettings(duration_s=10.0, targets=("container", "lambda"), out_dir=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        soak.run(settings, Progress(quiet=True))
    doc = _ok(json.loads((tmp_path / "soak.json").read_text()), formats.SOAK)
    assert doc["interrupted"] is True and doc["ok"] is False and len(doc["targets"]) == 1


def _wrapper_report(*_: object) -> WrapperReport:
    report = WrapperReport("native-lambda", requests=50, duration_s=1.0)
    report.statuses.update({"200": 30, "400": 20})
    report.edge_cases.append({"case": "empty body", "bytes": 0, "status": 400, "problem": None})
    return report


def test_fuzz_document_from_fuzz_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(fuzz, "fuzz_native_lambda", _wrapper_report)
    reports = fuzz.run(FuzzSettings(n=50, wrappers=("native-lambda",), out_dir=tmp_path), Progress(quiet=True))
    doc = _ok(json.loads((tmp_path / "fuzz.json").read_text()), formats.FUZZ)
    assert doc["ok"] is True and doc["wrappers"] == [r.to_dict() for r in reports]


def test_an_interrupted_fuzz_writes_what_it_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def interrupted(*_: object) -> WrapperReport:
        raise KeyboardInterrupt

    monkeypatch.setattr(fuzz, "fuzz_native_lambda", _wrapper_report)
    monkeypatch.setattr(fuzz, "fuzz_container", interrupted)
    settings = FuzzSettings(wrappers=("native-lambda", "container"), out_dir=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        fuzz.run(settings, Progress(quiet=True))
    doc = _ok(json.loads((tmp_path / "fuzz.json").read_text()), formats.FUZZ)
    assert doc["interrupted"] is True and doc["ok"] is False and [w["name"] for w in doc["wrappers"]] == ["native-lambda"]


class _CloudWatch:
    """GetMetricData answering one point per query."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def get_metric_data(self, MetricDataQueries: list[dict], **_: object) -> dict:  # noqa: N803 (boto3's names)
        return {"MetricDataResults": [{"Id": q["Id"], "Timestamps": [self.at], "Values": [3.0]}
                                      for q in MetricDataQueries]}


class _Logs:
    """FilterLogEvents answering two REPORT lines, a cold one and a warm one, in one page."""

    def __init__(self, at: datetime) -> None:
        ms = int(at.timestamp() * 1000)
        self.events = [
            {"timestamp": ms, "logStreamName": "s", "message": format_report_line("a", 20.0, 21, 512, 80, init_duration_ms=300.0)},
            {"timestamp": ms + 1000, "logStreamName": "s", "message": format_report_line("b", 2.5, 3, 512, 81)},
        ]

    def filter_log_events(self, **_: object) -> dict:
        return {"events": self.events}


def test_cloudwatch_document_from_the_collector():
    end = datetime(2026, 1, 31, 10, 10, tzinfo=UTC)
    doc = cw.collect(cloudwatch=_CloudWatch(end - timedelta(minutes=5)), logs=_Logs(end - timedelta(minutes=5)),
                     lambda_client=None, function_name="f", region="eu-west-1", start=end - timedelta(minutes=10),
                     end=end, api_id="a1b2c3", now=end)
    _ok(doc, formats.CLOUDWATCH)
    assert doc["created"].startswith("2026-01-31T10:10:00") and doc["reports"]["cold_start_count"] == 1


def _recorded_kubectl(cmd: list[str]) -> subprocess.CompletedProcess:
    if "version" in cmd:
        name = "kubectl-version.json"
    else:
        resource = cmd[cmd.index("get") + 1]
        name = {"pods": "pods.json", "pods.metrics.k8s.io": "podmetrics.json",
                "horizontalpodautoscalers.autoscaling": "hpa.json", "events": "events.json"}[resource]
    return subprocess.CompletedProcess(cmd, 0, (K8S_DATA / name).read_text(), "")


def test_kubectl_document_from_the_collector():
    target = km.KubectlTarget(namespace="twinserve-dev", selector="app.kubernetes.io/name=twinserve-predict",
                              kubectl="kubectl")
    timeline = {"interval_s": 2.0, "samples": [{"t_s": 0.0, "time": "2026-01-31T10:09:58Z", "pods_total": 3,
                                                "pods_ready": 1, "pods_pending": 1, "hpa": {}}], "errors": []}
    doc = km.collect(target, since_s=3600, runner=_recorded_kubectl, now=datetime(2026, 1, 31, 10, 10, tzinfo=UTC),
                     timeline=timeline)
    _ok(doc, formats.KUBECTL)
    assert doc["pods_summary"]["count"] == 3 and doc["environment"]["kubectl_version"] == "v1.37.1"


def test_cost_comparison_document():
    from twinbench.cost import model as cost
    from twinbench.cost import traffic

    doc = cost.compare(traffic.constant(50.0), cost.LambdaConfig(12, 1024), cost.ContainerConfig(pod_rps=400)).to_dict()
    _ok(json.loads(json.dumps(doc)), formats.COST)
    assert formats.COST.version == cost.SCHEMA_VERSION


# -- readers ----------------------------------------------------------------------------------------


def test_version_1_envelopes_are_read_as_version_1():
    old_soak = {"schema_version": 1, "kind": "twinbench-soak", "started_utc": "20260101T000000Z", "wall_s": 1.0,
                "settings": {}, "environment": {"python": "3.11"}, "targets": [], "ok": True, "path": "soak.json"}
    doc = RunDocument.from_dict(old_soak)
    assert (doc.format, doc.version, doc.created, doc.interrupted) == (formats.SOAK, 1, "20260101T000000Z", False)
    assert isinstance(doc.payload, SoakResults) and doc.environment == {"python": "3.11"}
    old_cw = {"schema": "twinbench.cloudwatch/1", "collected_at": "2026-01-01T00:00:00Z", "environment": {},
              "target": {}, "window": {}, "lambda_metrics": {}, "api_metrics": None, "reports": {}, "cost": {},
              "warnings": []}
    assert RunDocument.from_dict(old_cw, expected=formats.CLOUDWATCH).created == "2026-01-01T00:00:00Z"
    assert formats.identify({"schema_version": "1.0", "run": {}}) == (formats.RESULTS, 1)


@pytest.mark.parametrize("data, message", [
    ({"format": "twinbench.results", "version": 3}, "newer than this twinbench reads"),
    ({"format": "twinbench.nothing", "version": 1}, "unknown document format"),
    ({"format": "twinbench.results", "version": "2"}, "not a positive integer"),
    ({"run": {}}, "not a twinbench document"),
    ({"format": "twinbench.cost", "version": 2}, "not a run document"),
    ({"format": "twinbench.soak", "version": 2, "settings": {}, "surprise": 1}, "unexpected top-level keys"),
    ({"format": "twinbench.soak", "version": 2}, "missing top-level keys"),
])
def test_readers_refuse_what_they_would_misread(data: dict, message: str):
    with pytest.raises(DocumentError, match=message):
        RunDocument.from_dict(data)


def test_from_dict_checks_the_expected_kind():
    doc = RunDocument(BenchResults(run={"id": "x"}))
    assert doc.to_dict()["format"] == "twinbench.results" and doc.version == formats.RESULTS.version
    with pytest.raises(DocumentError, match="expected a twinbench.peers document"):
        RunDocument.from_dict(doc.to_dict(), expected=formats.PEERS)


# -- the commands write through their run folder ------------------------------------------------------


def test_bench_peers_command_writes_a_valid_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    from types import SimpleNamespace

    from twinbench.__main__ import main
    from twinbench.cli import peers as peers_cli
    from twinbench.peers import compare, runner, servers

    record = {"model": "rf", "labels_agree": True, "summary": {}, "_summary_int": {},
              "servers": {"twinserve": {"label": "twinserve", "keep_alive": False, "rounds": [], "sweeps": []}},
              "targets": [{"target": "rps >= 1.5x naive", "verdict": "FAIL"}]}
    monkeypatch.setattr(peers_cli, "_preflight", lambda cfg: None)
    monkeypatch.setattr(runner, "environment", lambda cfg: {**envinfo.collect(), "wrk_version": None})
    monkeypatch.setattr(servers, "prepare_model", lambda *a: SimpleNamespace(model_dir=tmp_path))
    monkeypatch.setattr(runner, "run_model", lambda *a: json.loads(json.dumps(record)))
    monkeypatch.setattr(compare, "render_table", lambda *a: "table")
    code = main(["bench-peers", "--models", "rf", "--servers", "twinserve", "--sweep-rates", "", "--out",
                 str(tmp_path / "out"), "--quiet"])
    assert code == peers_cli.EXIT_TARGET_FAILED
    (path,) = (tmp_path / "out").glob("peers-*/results.json")
    doc = _ok(json.loads(path.read_text()), formats.PEERS)
    assert doc["run"]["status"] == "ok" and doc["run"]["targets_met"] is False and "_summary_int" not in doc["models"]["rf"]
    assert (path.parent / "logs").is_dir() and "some targets are not met" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["soak", "fuzz"])
def test_interrupted_soak_and_fuzz_exit_130_without_a_traceback(command: str, monkeypatch: pytest.MonkeyPatch, capsys):
    from twinbench.__main__ import main

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(soak if command == "soak" else fuzz, "run", interrupted)
    assert main([command, "--quiet"]) == 130
    err = capsys.readouterr().err
    assert f"{command}: interrupted" in err and "Traceback" not in err


def test_package_size_document_from_the_packager(tmp_path: Path):
    """What `make package-lambda` writes (build/lambda/package-size.json), from the packager's own `size` command."""
    import subprocess
    import sys
    import zipfile

    from twinserve_support.paths import REPO

    archive = tmp_path / "twinserve.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
        z.writestr("twinserve/__init__.py", "")
    out = tmp_path / "package-size.json"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "lambda_package_tool.py"), "size", "--zip", str(archive),
                           "--pkg", str(tmp_path / "pkg"), "--json-out", str(out)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    results.validate(data, formats.PACKAGE_SIZE)
    assert data["files"] == 2 and data["meets_target"] is True
