"""kubectl collector: what Kubernetes itself recorded about the container deployment.

It runs the real ``kubectl`` (the pinned one from ``.venv-tools``) with ``-o json`` and parses the
API documents it prints (pods and their startup conditions, pod metrics, HPAs, events, and with
``--watch`` a replica/ready-pod timeline) into the ``twinbench.kubectl`` document (schema
``results/schemas/kubectl.schema.json``): pod startup phases and HPA reactions, as the cluster saw them.

Details (the sources, the document's layout, what ``ready_s`` means): docs/benchmark.md, 'kubectl collector'.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The one quantity parser (twinserve_support.k8s.quantity); measured figures are floats here.
from twinserve_support.k8s.quantity import quantity_float as parse_quantity  # noqa: E402
from twinserve_support.paths import REPO as REPO_ROOT  # noqa: E402

from twinbench.measure.stats import distribution  # noqa: E402
from twinbench.results.documents import KubectlResults, RunDocument  # noqa: E402

PINNED_KUBECTL = REPO_ROOT / ".venv-tools" / "bin" / "kubectl"
DEFAULT_REQUEST_TIMEOUT = "20s"


class KubectlError(Exception):
    """kubectl failed in a way the user can fix (no cluster, wrong context, RBAC); ``str()`` says how."""

    exit_code = 2


class MetricsUnavailable(KubectlError):
    """The metrics.k8s.io API (metrics-server) is not installed or not ready."""


# ----------------------------------------------------------------------------------------------
# Commands


@dataclass(frozen=True, slots=True)
class KubectlTarget:
    """Where to look: ``context`` None = kubeconfig's current context."""

    namespace: str
    selector: str
    context: str | None = None
    kubectl: str = "kubectl"
    request_timeout: str = DEFAULT_REQUEST_TIMEOUT

    def base(self) -> list[str]:
        cmd = [self.kubectl]
        if self.context:
            cmd += ["--context", self.context]
        return cmd + ["--namespace", self.namespace, f"--request-timeout={self.request_timeout}"]

    def get(self, resource: str, *, selected: bool = True) -> list[str]:
        """``kubectl [--context C] --namespace N get RESOURCE [-l SELECTOR] -o json``."""
        cmd = self.base() + ["get", resource]
        if selected:
            cmd += ["-l", self.selector]
        return cmd + ["-o", "json"]

    def pods(self) -> list[str]:
        return self.get("pods")

    def pod_metrics(self) -> list[str]:
        return self.get("pods.metrics.k8s.io")

    def hpas(self) -> list[str]:
        # HPAs are not necessarily labelled like the pods: take the namespace's, match by target.
        return self.get("horizontalpodautoscalers.autoscaling", selected=False)

    def events(self) -> list[str]:
        return self.get("events", selected=False)


def find_kubectl(explicit: str | None = None) -> str:
    """The kubectl to run: ``explicit``, ``$TWINBENCH_KUBECTL``, the pinned ``.venv-tools`` one, PATH.

    Raises :class:`KubectlError` when none exists (hint: ``make setup-tools``).
    """
    if explicit is not None and not (Path(explicit).is_file() or shutil.which(explicit)):
        raise KubectlError(f"--kubectl {explicit!r}: no such file or command")  # never another kubectl instead
    for candidate in (explicit, os.environ.get("TWINBENCH_KUBECTL"), str(PINNED_KUBECTL)):
        if candidate and (Path(candidate).is_file() or shutil.which(candidate)):
            return str(Path(candidate).resolve()) if Path(candidate).is_file() else candidate
    found = shutil.which("kubectl")
    if found:
        return found
    raise KubectlError("kubectl not found: run `make setup-tools` (pinned kubectl in .venv-tools/bin)")


Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


def run_subprocess(cmd: Sequence[str]) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120, check=False)


_UNREACHABLE = (
    "connection refused",
    "unable to connect to the server",
    "no such host",
    "i/o timeout",
    "context deadline exceeded",
    "was refused",
    "the server has asked for the client to provide credentials",
    "no configuration has been provided",
    "invalid configuration",
    "tls: failed to verify certificate",
)
_METRICS_ABSENT = (
    "metrics api not available",
    "doesn't have a resource type",
    "metrics.k8s.io",
    "the server could not find the requested resource",
    "serviceunavailable",
    "the server is currently unable to handle the request",
)


def run_json(cmd: Sequence[str], runner: Runner = run_subprocess, *, metrics: bool = False) -> dict[str, Any]:
    """Run one kubectl command and parse its JSON, mapping failures to a clear :class:`KubectlError`."""
    try:
        proc = runner(cmd)
    except FileNotFoundError as exc:
        raise KubectlError(f"kubectl not found at {cmd[0]}: run `make setup-tools`") from exc
    except OSError as exc:  # a directory or a file without the execute bit
        raise KubectlError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise KubectlError(f"kubectl did not answer within {exc.timeout:.0f}s: {' '.join(cmd)}") from exc
    stderr = (proc.stderr or "").strip()
    if proc.returncode != 0:
        low = stderr.lower()
        if metrics and any(s in low for s in _METRICS_ABSENT):
            raise MetricsUnavailable(
                "metrics-server is not installed or not ready (metrics.k8s.io API unavailable); "
                "CPU/memory usage skipped. Install it: kubectl apply -f "
                "https://github.com/kubernetes-sigs/metrics-server/releases/latest/download/components.yaml"
                f" [{stderr.splitlines()[-1] if stderr else 'no message'}]"
            )
        if any(s in low for s in _UNREACHABLE):
            raise KubectlError(
                "kubectl cannot reach a cluster: check `kubectl config current-context`, --context and that "
                f"the cluster is running [{stderr.splitlines()[-1]}]"
            )
        if "context" in low and "does not exist" in low:
            raise KubectlError(f"unknown kubeconfig context: {stderr.splitlines()[-1]} (see kubectl config get-contexts)")
        if "forbidden" in low:
            raise KubectlError(f"RBAC forbids this read: {stderr.splitlines()[-1]}")
        last = stderr.splitlines()[-1] if stderr else "no message"  # one line: the error, not the log
        raise KubectlError(f"kubectl failed (exit {proc.returncode}): {' '.join(cmd)} [{last}]")
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        raise KubectlError(f"kubectl printed no JSON for: {' '.join(cmd)}") from exc


# ----------------------------------------------------------------------------------------------
# Parsing (pure)


def parse_time(text: str | None) -> datetime | None:
    """RFC 3339 as the API writes it (``2026-01-31T10:00:00Z``, optionally with fractions)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt else None


def _delta_s(later: datetime | None, earlier: datetime | None) -> float | None:
    return (later - earlier).total_seconds() if later and earlier else None


def cpu_millicores(text: str) -> float:
    return parse_quantity(text) * 1000.0


def memory_mib(text: str) -> float:
    return parse_quantity(text) / 2.0**20


def _items(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    # `kubectl get -o json` prints kind "List" (or "PodList"...) with items; a single object otherwise.
    if "items" in doc:
        return list(doc.get("items") or [])
    return [dict(doc)] if doc.get("kind") else []


def parse_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """Startup phases, restarts and failure reasons of one Pod object."""
    meta = pod.get("metadata", {})
    spec = pod.get("spec", {})
    status = pod.get("status", {})
    created = parse_time(meta.get("creationTimestamp"))
    conditions = {c.get("type"): c for c in status.get("conditions") or []}

    def cond_time(kind: str) -> datetime | None:
        c = conditions.get(kind)
        return parse_time(c.get("lastTransitionTime")) if c and c.get("status") == "True" else None

    scheduled = cond_time("PodScheduled")
    initialized = cond_time("Initialized")
    containers_ready = cond_time("ContainersReady")
    ready = cond_time("Ready")
    statuses = list(status.get("containerStatuses") or [])
    started = [
        parse_time(s["state"]["running"].get("startedAt"))
        for s in statuses
        if (s.get("state") or {}).get("running", {}).get("startedAt")
    ]
    container_started = min((t for t in started if t), default=None)
    waiting = sorted(
        {
            s["state"]["waiting"].get("reason", "Waiting")
            for s in [*statuses, *(status.get("initContainerStatuses") or [])]
            if "waiting" in (s.get("state") or {})
        }
    )
    last_termination = [
        {
            "container": s.get("name"),
            "reason": s["lastState"]["terminated"].get("reason"),
            "exit_code": s["lastState"]["terminated"].get("exitCode"),
            "finished_at": s["lastState"]["terminated"].get("finishedAt"),
        }
        for s in statuses
        if "terminated" in (s.get("lastState") or {})
    ]
    return {
        "name": meta.get("name"),
        "node": spec.get("nodeName"),
        "phase": status.get("phase"),
        "ready": ready is not None,
        "qos_class": status.get("qosClass"),
        "created_at": _iso(created),
        "scheduled_at": _iso(scheduled),
        "initialized_at": _iso(initialized),
        "container_started_at": _iso(container_started),
        "containers_ready_at": _iso(containers_ready),
        "ready_at": _iso(ready),
        "scheduled_s": _delta_s(scheduled, created),
        "initialized_s": _delta_s(initialized, created),
        "container_started_s": _delta_s(container_started, created),
        "containers_ready_s": _delta_s(containers_ready, created),
        "ready_s": _delta_s(ready, created),
        "image_pull_s": None,
        "restarts_count": sum(int(s.get("restartCount", 0)) for s in statuses),
        "waiting_reasons": waiting,
        "last_termination": last_termination,
        "cpu_millicores": None,
        "memory_mib": None,
    }


def parse_pod_metrics(doc: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``PodMetricsList`` → ``{pod: {"cpu_millicores", "memory_mib"}}`` summed over containers."""
    usage: dict[str, dict[str, float]] = {}
    for item in _items(doc):
        cpu = mem = 0.0
        for c in item.get("containers") or []:
            u = c.get("usage") or {}
            cpu += cpu_millicores(u.get("cpu", "0"))
            mem += memory_mib(u.get("memory", "0"))
        usage[item.get("metadata", {}).get("name")] = {"cpu_millicores": cpu, "memory_mib": mem}
    return usage


def parse_hpa(hpa: Mapping[str, Any]) -> dict[str, Any]:
    """One autoscaling/v2 HorizontalPodAutoscaler."""
    meta, spec, status = hpa.get("metadata", {}), hpa.get("spec", {}), hpa.get("status", {})
    ref = spec.get("scaleTargetRef") or {}
    metrics = []
    for m in status.get("currentMetrics") or []:
        body = m.get(_lower_first(m.get("type", ""))) or {}
        current = body.get("current") or {}
        avg_value = current.get("averageValue")
        metrics.append(
            {
                "type": m.get("type"),
                "name": body.get("name") or (body.get("metric") or {}).get("name"),
                "average_utilization_percent": current.get("averageUtilization"),
                "average_value": parse_quantity(avg_value) if avg_value is not None else None,
            }
        )
    return {
        "name": meta.get("name"),
        "target": f"{ref.get('kind')}/{ref.get('name')}",
        "min_replicas": spec.get("minReplicas", 1),
        "max_replicas": spec.get("maxReplicas"),
        "current_replicas": status.get("currentReplicas"),
        "desired_replicas": status.get("desiredReplicas"),
        "last_scale_time": status.get("lastScaleTime"),
        "current_metrics": metrics,
        "conditions": {c.get("type"): c.get("status") for c in status.get("conditions") or []},
        "scaling_events": [],
    }


def _lower_first(s: str) -> str:
    return s[:1].lower() + s[1:]


def event_time(ev: Mapping[str, Any]) -> datetime | None:
    """When an Event last happened: ``lastTimestamp``, else ``eventTime`` / ``series.lastObservedTime``."""
    return (
        parse_time(ev.get("lastTimestamp"))
        or parse_time((ev.get("series") or {}).get("lastObservedTime"))
        or parse_time(ev.get("eventTime"))
        or parse_time(ev.get("firstTimestamp"))
        or parse_time((ev.get("metadata") or {}).get("creationTimestamp"))
    )


_NEW_SIZE = re.compile(r"New size:\s*(\d+)")
_PULLED_IN = re.compile(r"Successfully pulled image .*? in ([0-9.]+)(ms|s)\b")


def parse_events(
    doc: Mapping[str, Any], pod_names: Iterable[str], hpa_names: Iterable[str], since: datetime | None
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], dict[str, float]]:
    """Split an Event list into (pod events, HPA scaling events by HPA, image pull seconds by pod)."""
    pods, hpas = set(pod_names), set(hpa_names)
    pod_events: list[dict[str, Any]] = []
    scaling: dict[str, list[dict[str, Any]]] = {h: [] for h in hpas}
    pulls: dict[str, float] = {}
    for ev in _items(doc):
        when = event_time(ev)
        if since and when and when < since:
            continue
        obj = ev.get("involvedObject") or ev.get("regarding") or {}
        kind, name = obj.get("kind"), obj.get("name")
        message = ev.get("message") or ev.get("note") or ""
        if kind == "HorizontalPodAutoscaler" and name in hpas:
            m = _NEW_SIZE.search(message)
            scaling[name].append(
                {
                    "time": _iso(when),
                    "reason": ev.get("reason"),
                    "new_size": int(m.group(1)) if m else None,
                    "message": message,
                    "count": ev.get("count", 1),
                }
            )
        elif kind == "Pod" and name in pods:
            pod_events.append(
                {
                    "time": _iso(when),
                    "pod": name,
                    "reason": ev.get("reason"),
                    "type": ev.get("type"),
                    "message": message,
                    "count": ev.get("count", 1),
                }
            )
            m = _PULLED_IN.search(message)
            if ev.get("reason") == "Pulled" and m:
                seconds = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
                pulls[name] = pulls.get(name, 0.0) + seconds
    for events in scaling.values():
        events.sort(key=lambda e: e["time"] or "")
    pod_events.sort(key=lambda e: e["time"] or "")
    return pod_events, scaling, pulls


def summarize_pods(pods: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    def vals(key: str) -> list[float]:
        return [p[key] for p in pods if p.get(key) is not None]

    return {
        "count": len(pods),
        "ready_count": sum(1 for p in pods if p["ready"]),
        "pending_count": sum(1 for p in pods if p["phase"] == "Pending"),
        "crash_looping_count": sum(1 for p in pods if "CrashLoopBackOff" in p["waiting_reasons"]),
        "restarts_total": sum(p["restarts_count"] for p in pods),
        "scheduled_s": distribution(vals("scheduled_s")),
        "container_started_s": distribution(vals("container_started_s")),
        "ready_s": distribution(vals("ready_s")),
    }


def timeline_sample(
    pods_doc: Mapping[str, Any], hpa_doc: Mapping[str, Any] | None, t_s: float, now: datetime
) -> dict[str, Any]:
    """One ``--watch`` sample from a pods list and an HPA list."""
    pods = [parse_pod(p) for p in _items(pods_doc)]
    hpas = [parse_hpa(h) for h in _items(hpa_doc or {})]
    return {
        "t_s": round(t_s, 3),
        "time": _iso(now),
        "pods_total": len(pods),
        "pods_ready": sum(1 for p in pods if p["ready"]),
        "pods_pending": sum(1 for p in pods if p["phase"] == "Pending"),
        "hpa": {
            h["name"]: {"current_replicas": h["current_replicas"], "desired_replicas": h["desired_replicas"]}
            for h in hpas
        },
    }


# ----------------------------------------------------------------------------------------------
# Orchestration


def kubectl_version(kubectl: str, runner: Runner = run_subprocess) -> str | None:
    try:
        proc = runner([kubectl, "version", "--client", "-o", "json"])
        return json.loads(proc.stdout)["clientVersion"]["gitVersion"] if proc.returncode == 0 else None
    except (OSError, ValueError, KeyError, subprocess.SubprocessError):
        return None


def collect(
    target: KubectlTarget,
    *,
    since_s: float | None = 3600,
    runner: Runner = run_subprocess,
    now: datetime | None = None,
    timeline: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole document (see module docstring) from one snapshot of pods, metrics, HPAs, events.

    Raises :class:`KubectlError` when the cluster cannot be read at all; a missing metrics-server
    or no matching pod only add a warning.
    """
    now = now or datetime.now(UTC)
    warnings: list[str] = []
    pods = [parse_pod(p) for p in _items(run_json(target.pods(), runner))]
    if not pods:
        warnings.append(f"no pods match -l {target.selector} in namespace {target.namespace}")

    top: dict[str, Any] = {"available": False, "message": None, "cpu_millicores_total": None, "memory_mib_total": None}
    try:
        usage = parse_pod_metrics(run_json(target.pod_metrics(), runner, metrics=True))
        top.update(
            available=True,
            cpu_millicores_total=sum(u["cpu_millicores"] for u in usage.values()),
            memory_mib_total=sum(u["memory_mib"] for u in usage.values()),
        )
        for p in pods:
            if p["name"] in usage:
                p.update(usage[p["name"]])
    except MetricsUnavailable as exc:
        top["message"] = str(exc)
        warnings.append(str(exc))

    hpas = [parse_hpa(h) for h in _items(run_json(target.hpas(), runner))]
    since = now - timedelta(seconds=since_s) if since_s else None
    pod_events, scaling, pulls = parse_events(
        run_json(target.events(), runner), [p["name"] for p in pods], [h["name"] for h in hpas], since
    )
    for h in hpas:
        h["scaling_events"] = scaling.get(h["name"], [])
    for p in pods:
        p["image_pull_s"] = pulls.get(p["name"])

    payload = KubectlResults(
        target={
            "context": target.context,
            "namespace": target.namespace,
            "selector": target.selector,
            "since_s": since_s,
        },
        pods=pods,
        pods_summary=summarize_pods(pods),
        top=top,
        hpas=hpas,
        pod_events=pod_events,
        timeline=dict(timeline) if timeline is not None else None,
        warnings=warnings,
    )
    environment = {
        "kubectl": target.kubectl,
        "kubectl_version": kubectl_version(target.kubectl, runner),
        "python": platform.python_version(),
    }
    return RunDocument(payload, created=_iso(now), environment=environment).to_dict()


def watch(
    target: KubectlTarget,
    *,
    interval_s: float,
    duration_s: float | None,
    should_stop: Callable[[], bool],
    runner: Runner = run_subprocess,
    on_sample: Callable[[dict[str, Any]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Sample pods + HPAs every ``interval_s`` until ``should_stop()`` or ``duration_s`` elapses.

    Returns the ``timeline`` section. A failing sample aborts with :class:`KubectlError` unless
    some samples were already taken (then the timeline so far is returned with the error noted).
    """
    samples: list[dict[str, Any]] = []
    errors: list[str] = []
    t0 = clock()
    next_at = t0
    while not should_stop():
        elapsed = clock() - t0
        if duration_s is not None and elapsed > duration_s:
            break
        try:
            pods_doc = run_json(target.pods(), runner)
            hpa_doc = run_json(target.hpas(), runner)
        except KubectlError as exc:
            if not samples:
                raise
            errors.append(f"t={elapsed:.1f}s: {exc}")
            break
        sample = timeline_sample(pods_doc, hpa_doc, clock() - t0, datetime.now(UTC))
        samples.append(sample)
        if on_sample:
            on_sample(sample)
        next_at += interval_s
        # Sleep in short slices so a stop request is honoured within ~0.2 s.
        while not should_stop() and clock() < next_at:
            sleep(min(0.2, max(0.0, next_at - clock())))
    return {"interval_s": interval_s, "samples": samples, "errors": errors}
