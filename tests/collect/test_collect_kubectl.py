"""kubectl collector: recorded API documents through the parsing, command construction, the real
kubectl's failure modes, and the CLI end to end with a stand-in kubectl that replays the documents."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from twinbench.cli.collect import main_kubectl, parse_since
from twinbench.collect import kubectl as km

DATA = Path(__file__).resolve().parents[1] / "data" / "k8s"
from twinserve_support.paths import REPO  # noqa: E402

SCRIPTS = REPO / "scripts"
NOW = datetime(2026, 1, 31, 10, 10, tzinfo=UTC)
POD_OK = "twinserve-predict-7d9f8b6c5d-abcde"
POD_PENDING = "twinserve-predict-7d9f8b6c5d-pendg"
POD_CRASH = "twinserve-predict-7d9f8b6c5d-crash"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def target(**kw) -> km.KubectlTarget:
    return km.KubectlTarget(namespace="twinserve-dev", selector="app.kubernetes.io/name=twinserve-predict", **kw)


class Recorded:
    """A runner answering each kubectl command from the recorded documents, and logging the commands."""

    def __init__(self, metrics_stderr: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.metrics_stderr = metrics_stderr

    def __call__(self, cmd):
        cmd = list(cmd)
        self.calls.append(cmd)

        def ok(name: str) -> subprocess.CompletedProcess:
            return subprocess.CompletedProcess(cmd, 0, (DATA / name).read_text(), "")

        if "version" in cmd:
            return ok("kubectl-version.json")
        resource = cmd[cmd.index("get") + 1]
        if resource == "pods.metrics.k8s.io":
            if self.metrics_stderr:
                return subprocess.CompletedProcess(cmd, 1, "", self.metrics_stderr)
            return ok("podmetrics.json")
        return ok({"pods": "pods.json", "horizontalpodautoscalers.autoscaling": "hpa.json", "events": "events.json"}[resource])


# -- command construction -------------------------------------------------------------------------


def test_commands_carry_context_namespace_selector_and_json_output():
    t = target(context="kind-twinserve", kubectl="/opt/kubectl")
    assert t.pods() == [
        "/opt/kubectl", "--context", "kind-twinserve", "--namespace", "twinserve-dev", "--request-timeout=20s",
        "get", "pods", "-l", "app.kubernetes.io/name=twinserve-predict", "-o", "json",
    ]
    assert t.pod_metrics()[6:] == ["get", "pods.metrics.k8s.io", "-l", "app.kubernetes.io/name=twinserve-predict",
                                   "-o", "json"]
    # HPAs and events are namespace-wide (not necessarily labelled); matched by name afterwards.
    assert t.hpas()[6:] == ["get", "horizontalpodautoscalers.autoscaling", "-o", "json"]
    assert t.events()[6:] == ["get", "events", "-o", "json"]


def test_without_context_uses_the_current_one():
    assert "--context" not in target(kubectl="kubectl").pods()


def test_find_kubectl_prefers_explicit_then_env(tmp_path, monkeypatch):
    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert km.find_kubectl(str(fake)) == str(fake)
    monkeypatch.setenv("TWINBENCH_KUBECTL", str(fake))
    assert km.find_kubectl(None) == str(fake)


# -- parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("250m", 0.25), ("1", 1.0), ("1500000n", 0.0015), ("12u", 12e-6), ("64Mi", 64 * 2**20), ("151236Ki", 151236 * 1024),
     ("1Gi", 2**30), ("129M", 129e6), ("1e3", 1000.0), ("0.5", 0.5)],
)
def test_parse_quantity(text, value):
    assert km.parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["", "abc", "12Xi", "1.2.3"])
def test_parse_quantity_rejects_garbage(bad):
    with pytest.raises(ValueError):
        km.parse_quantity(bad)


def test_ready_pod_startup_phases():
    pods = {p["metadata"]["name"]: km.parse_pod(p) for p in load("pods.json")["items"]}
    ok = pods[POD_OK]
    assert ok["phase"] == "Running" and ok["ready"] is True
    assert (ok["scheduled_s"], ok["initialized_s"], ok["container_started_s"], ok["containers_ready_s"], ok["ready_s"]) == (
        1.0, 1.0, 4.0, 9.0, 9.0,
    )
    assert ok["created_at"] == "2026-01-31T10:00:00Z" and ok["ready_at"] == "2026-01-31T10:00:09Z"
    assert ok["restarts_count"] == 0 and ok["waiting_reasons"] == [] and ok["last_termination"] == []


def test_pending_pod_has_no_phases_after_creation():
    p = km.parse_pod(next(p for p in load("pods.json")["items"] if p["metadata"]["name"] == POD_PENDING))
    assert p["phase"] == "Pending" and not p["ready"]
    assert p["scheduled_s"] is None and p["ready_s"] is None and p["container_started_s"] is None
    assert p["node"] is None


def test_crash_looping_pod_reports_restarts_and_oom_kill():
    p = km.parse_pod(next(p for p in load("pods.json")["items"] if p["metadata"]["name"] == POD_CRASH))
    assert p["waiting_reasons"] == ["CrashLoopBackOff"]
    assert p["restarts_count"] == 4
    assert p["last_termination"] == [
        {"container": "predict", "reason": "OOMKilled", "exit_code": 137, "finished_at": "2026-01-31T10:04:40Z"}
    ]
    assert p["scheduled_s"] == 2.0 and p["ready_s"] is None  # Ready is False: not a ready time


def test_pod_metrics_in_millicores_and_mib():
    usage = km.parse_pod_metrics(load("podmetrics.json"))
    assert usage[POD_OK]["cpu_millicores"] == pytest.approx(187.453012)
    assert usage[POD_OK]["memory_mib"] == pytest.approx(151236 / 1024)
    assert usage[POD_CRASH] == {"cpu_millicores": pytest.approx(2.0), "memory_mib": pytest.approx(64.0)}


def test_hpa_replicas_metrics_and_conditions():
    (hpa,) = [km.parse_hpa(h) for h in load("hpa.json")["items"]]
    assert hpa["target"] == "Deployment/twinserve-predict"
    assert (hpa["min_replicas"], hpa["max_replicas"], hpa["current_replicas"], hpa["desired_replicas"]) == (1, 6, 3, 4)
    assert hpa["current_metrics"] == [
        {"type": "Resource", "name": "cpu", "average_utilization_percent": 75, "average_value": pytest.approx(0.187)}
    ]
    assert hpa["conditions"] == {"AbleToScale": "True", "ScalingActive": "True", "ScalingLimited": "False"}


def test_events_split_filtered_by_since_with_image_pull_time():
    since = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    pod_events, scaling, pulls = km.parse_events(
        load("events.json"), [POD_OK, POD_PENDING, POD_CRASH], ["twinserve-predict"], since
    )
    assert [e["new_size"] for e in scaling["twinserve-predict"]] == [3, 4]  # the 2026-01-30 one is too old
    assert pulls == {POD_OK: pytest.approx(1.523)}
    reasons = {(e["pod"], e["reason"]) for e in pod_events}
    assert (POD_PENDING, "FailedScheduling") in reasons and (POD_CRASH, "BackOff") in reasons
    backoff = next(e for e in pod_events if e["reason"] == "BackOff")
    assert backoff["count"] == 9 and backoff["time"] == "2026-01-31T10:08:00Z"


def test_event_time_falls_back_to_event_time_for_events_v1_style():
    ev = {"eventTime": "2026-01-31T10:00:00.123456Z", "lastTimestamp": None, "firstTimestamp": None}
    assert km.event_time(ev) == datetime(2026, 1, 31, 10, 0, 0, 123456, tzinfo=UTC)


# -- collect ----------------------------------------------------------------------------------------


def test_collect_whole_document_from_recorded_cluster():
    runner = Recorded()
    doc = km.collect(target(kubectl="kubectl"), since_s=3600, runner=runner, now=NOW)
    assert (doc["format"], doc["version"]) == ("twinbench.kubectl", 2)
    assert doc["environment"]["kubectl_version"] == "v1.37.1"
    s = doc["pods_summary"]
    assert (s["count"], s["ready_count"], s["pending_count"], s["crash_looping_count"], s["restarts_total"]) == (3, 1, 1, 1, 4)
    assert s["ready_s"]["n"] == 1 and s["ready_s"]["p50"] == 9.0
    ok = next(p for p in doc["pods"] if p["name"] == POD_OK)
    assert ok["image_pull_s"] == pytest.approx(1.523) and ok["cpu_millicores"] == pytest.approx(187.453012)
    assert doc["top"]["available"] and doc["top"]["cpu_millicores_total"] == pytest.approx(189.453012)
    assert [e["new_size"] for e in doc["hpas"][0]["scaling_events"]] == [3, 4]
    assert doc["timeline"] is None and doc["warnings"] == []
    json.dumps(doc)  # serialisable as is


@pytest.mark.parametrize(
    "stderr",
    [
        'error: the server doesn\'t have a resource type "pods"',
        "Error from server (ServiceUnavailable): the server is currently unable to handle the request "
        "(get pods.metrics.k8s.io)",
        "error: Metrics API not available",
    ],
)
def test_missing_metrics_server_is_a_warning_not_a_failure(stderr):
    doc = km.collect(target(kubectl="kubectl"), runner=Recorded(metrics_stderr=stderr), now=NOW)
    assert doc["top"]["available"] is False
    assert "metrics-server is not installed" in doc["top"]["message"]
    assert any("metrics-server" in w for w in doc["warnings"])
    assert all(p["cpu_millicores"] is None for p in doc["pods"])


def test_no_matching_pods_is_a_warning():
    def runner(cmd):
        if "pods" in cmd:
            return subprocess.CompletedProcess(cmd, 0, '{"apiVersion":"v1","items":[],"kind":"List","metadata":{"resourceVersion":""}}', "")
        return Recorded()(cmd)

    doc = km.collect(target(kubectl="kubectl"), runner=runner, now=NOW)
    assert doc["pods"] == [] and "no pods match" in doc["warnings"][0]


def test_rbac_forbidden_message():
    def runner(cmd):
        return subprocess.CompletedProcess(
            cmd, 1, "", 'Error from server (Forbidden): pods is forbidden: User "dev" cannot list resource "pods"'
        )

    with pytest.raises(km.KubectlError, match="RBAC forbids"):
        km.collect(target(kubectl="kubectl"), runner=runner, now=NOW)


# -- the real kubectl, no cluster -------------------------------------------------------------------


@pytest.fixture
def real_kubectl() -> str:
    path = REPO / ".venv-tools" / "bin" / "kubectl"
    if not path.exists():
        pytest.skip("pinned kubectl not installed (make setup-tools)")
    return str(path)


@pytest.fixture
def dead_kubeconfig(tmp_path, monkeypatch) -> Path:
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Config
        clusters:
        - cluster: {server: "https://127.0.0.1:1"}
          name: dead
        contexts:
        - context: {cluster: dead, user: u}
          name: dead
        current-context: dead
        users:
        - name: u
          user: {token: not-a-secret}
        """))
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    return cfg


def test_real_kubectl_unreachable_cluster_gives_clear_message(real_kubectl, dead_kubeconfig):
    with pytest.raises(km.KubectlError, match="cannot reach a cluster"):
        km.collect(target(kubectl=real_kubectl, context="dead", request_timeout="5s"))


def test_real_kubectl_unknown_context_gives_clear_message(real_kubectl, dead_kubeconfig):
    with pytest.raises(km.KubectlError, match='unknown kubeconfig context.*"nope"'):
        km.collect(target(kubectl=real_kubectl, context="nope"))


def test_cli_unreachable_cluster_exits_2_without_traceback(real_kubectl, dead_kubeconfig, capsys):
    rc = main_kubectl(["--kubectl", real_kubectl, "--context", "dead", "-n", "x", "-l", "a=b", "--request-timeout", "5s"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot reach a cluster" in err and "Traceback" not in err


# -- CLI end to end with a stand-in kubectl ---------------------------------------------------------

FAKE_KUBECTL = r'''#!{python}
"""Stand-in kubectl: logs argv, answers from recorded API documents like a cluster would."""
import json, os, sys
from pathlib import Path
data = Path({data!r})
args = sys.argv[1:]
with open(os.environ["FAKE_KUBECTL_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if "version" in args:
    print((data / "kubectl-version.json").read_text()); sys.exit(0)
resource = args[args.index("get") + 1]
if resource == "pods.metrics.k8s.io" and os.environ.get("FAKE_NO_METRICS"):
    sys.stderr.write('error: the server doesn\'t have a resource type "pods"\n'); sys.exit(1)
name = {{"pods": "pods.json", "pods.metrics.k8s.io": "podmetrics.json",
        "horizontalpodautoscalers.autoscaling": "hpa.json", "events": "events.json"}}[resource]
print((data / name).read_text())
'''


@pytest.fixture
def fake_kubectl(tmp_path, monkeypatch) -> Path:
    exe = tmp_path / "kubectl"
    exe.write_text(FAKE_KUBECTL.format(python=sys.executable, data=str(DATA)))
    exe.chmod(0o755)
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(tmp_path / "argv.log"))
    return exe


def _logged(tmp_path: Path) -> list[list[str]]:
    return [json.loads(line) for line in (tmp_path / "argv.log").read_text().splitlines()]


def test_cli_end_to_end_writes_document(fake_kubectl, tmp_path, capsys):
    out = tmp_path / "results" / "kubectl.json"
    rc = main_kubectl(["--kubectl", str(fake_kubectl), "--context", "kind-twinserve", "--namespace", "twinserve-dev",
                       "--selector", "app.kubernetes.io/name=twinserve-predict", "--since", "100000d", "--output", str(out)])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert doc["format"] == "twinbench.kubectl" and doc["pods_summary"]["count"] == 3
    assert doc["target"] == {"context": "kind-twinserve", "namespace": "twinserve-dev",
                             "selector": "app.kubernetes.io/name=twinserve-predict", "since_s": 100000 * 86400}
    gets = [a for a in _logged(tmp_path) if "get" in a]
    assert all(a[:4] == ["--context", "kind-twinserve", "--namespace", "twinserve-dev"] for a in gets)
    assert all(a[-2:] == ["-o", "json"] for a in gets)
    assert gets[0][7:9] == ["-l", "app.kubernetes.io/name=twinserve-predict"]
    assert len(doc["hpas"][0]["scaling_events"]) == 3  # --since 100000d keeps the old one too


def test_cli_warns_but_succeeds_without_metrics_server(fake_kubectl, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_NO_METRICS", "1")
    out = tmp_path / "k.json"
    rc = main_kubectl(["--kubectl", str(fake_kubectl), "-n", "twinserve-dev", "-l", "a=b", "-o", str(out)])
    assert rc == 0
    assert "warning: metrics-server is not installed" in capsys.readouterr().err
    assert json.loads(out.read_text())["top"]["available"] is False


def test_cli_bad_since_exits_2(capsys):
    assert main_kubectl(["-n", "x", "-l", "a=b", "--since", "soon"]) == 2
    assert "--since" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("45", 45)])
def test_parse_since(text, seconds):
    assert parse_since(text) == seconds


# -- --watch ----------------------------------------------------------------------------------------


def test_watch_samples_until_stopped():
    runner = Recorded()
    clock_now = [0.0]
    stops_after = 3

    def sleep(s):
        clock_now[0] += s

    samples: list[dict] = []
    timeline = km.watch(
        target(kubectl="kubectl"), interval_s=2.0, duration_s=None,
        should_stop=lambda: len(samples) >= stops_after, runner=runner,
        on_sample=samples.append, sleep=sleep, clock=lambda: clock_now[0],
    )
    assert len(timeline["samples"]) == 3
    assert [s["t_s"] for s in timeline["samples"]] == [0.0, 2.0, 4.0]
    first = timeline["samples"][0]
    assert (first["pods_total"], first["pods_ready"], first["pods_pending"]) == (3, 1, 1)
    assert first["hpa"] == {"twinserve-predict": {"current_replicas": 3, "desired_replicas": 4}}


def test_watch_stops_after_duration():
    clock_now = [0.0]
    timeline = km.watch(
        target(kubectl="kubectl"), interval_s=1.0, duration_s=2.5, should_stop=lambda: False, runner=Recorded(),
        sleep=lambda s: clock_now.__setitem__(0, clock_now[0] + s), clock=lambda: clock_now[0],
    )
    assert [s["t_s"] for s in timeline["samples"]] == [0.0, 1.0, 2.0]


@pytest.mark.slow
def test_cli_watch_stopped_by_sigint_writes_timeline(fake_kubectl, tmp_path):
    out = tmp_path / "watch.json"
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS)}
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "collect_kubectl.py"), "--kubectl", str(fake_kubectl), "-n", "twinserve-dev",
         "-l", "a=b", "--watch", "--interval-s", "0.2", "--output", str(out)],
        env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            log = tmp_path / "argv.log"
            if log.exists() and sum(1 for a in _logged(tmp_path) if "pods" in a) >= 2:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    doc = json.loads(out.read_text())
    assert len(doc["timeline"]["samples"]) >= 2 and doc["timeline"]["interval_s"] == 0.2
    assert doc["pods_summary"]["count"] == 3
