"""twinserve_support.k8s: the one Kubernetes quantity parser and the one pod-limits reader."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from twinserve_support.k8s.manifests import ManifestError, load_objects, pod_settings, predictor_limits
from twinserve_support.k8s.quantity import QuantityError, parse_quantity, quantity_float
from twinserve_support.paths import K8S_BASE


@pytest.mark.parametrize(("text", "expected"), [
    ("1", Decimal(1)), ("500m", Decimal("0.5")), ("1500m", Decimal("1.5")), ("1Gi", Decimal(2**30)),
    ("128Mi", Decimal(128 * 2**20)), ("151236Ki", Decimal(151236 * 1024)), ("1G", Decimal(10**9)),
    ("129M", Decimal(129 * 10**6)), ("1500000n", Decimal("0.0015")), ("12u", Decimal("0.000012")),
    ("1e3", Decimal(1000)), ("2E-2", Decimal("0.02")), ("1E", Decimal(10**18)), (" 250m ", Decimal("0.25")),
    (2, Decimal(2)), (0.5, Decimal("0.5")), ("0.25", Decimal("0.25")), (".5", Decimal("0.5")),
])
def test_parse_quantity_is_exact(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("bad", ["", "lots", "abc", "m", "1Xi", "12Xi", "1.2.3", "1e", "Mi", True])
def test_parse_quantity_rejects_garbage(bad):
    with pytest.raises(QuantityError):
        parse_quantity(bad)
    assert issubclass(QuantityError, ValueError)


def test_quantity_float_is_the_same_number():
    assert quantity_float("250m") == 0.25 and quantity_float("64Mi") == 64 * 2**20


def _deployment(limits: dict[str, str]) -> list[dict]:
    return [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "twinserve-predict"},
             "spec": {"template": {"spec": {"containers": [
                 {"name": "sidecar", "resources": {"limits": {"cpu": "9"}}},
                 {"name": "predict", "resources": {"limits": limits}}]}}}}]


def test_predictor_limits_reads_the_predict_container_only():
    limits = predictor_limits(_deployment({"cpu": "1500m", "memory": "512Mi"}))
    assert (limits.cpu_cores, limits.memory_bytes, limits.memory_mb) == (Decimal("1.5"), 512 * 2**20, 512)
    with pytest.raises(ManifestError, match="no cpu and memory limits"):
        predictor_limits(_deployment({"cpu": "1"}))
    with pytest.raises(ManifestError, match="not a Kubernetes quantity"):
        predictor_limits(_deployment({"cpu": "x", "memory": "1Gi"}))
    with pytest.raises(ManifestError, match="no Deployment"):
        predictor_limits([])


def test_pod_settings_come_from_k8s_base():
    pod = pod_settings()
    limits = predictor_limits(load_objects(K8S_BASE / "deployment.yaml"))
    assert (pod.cpus, pod.memory_mb) == (float(limits.cpu_cores), limits.memory_mb)
    assert pod.source == "k8s/base/deployment.yaml"
    assert pod.env["WEB_CONCURRENCY"] and "GUNICORN_GRACEFUL_TIMEOUT" in pod.env


def test_pod_settings_fall_back_and_say_why(tmp_path: Path):
    pod = pod_settings(tmp_path)
    assert (pod.cpus, pod.memory_mb, pod.env) == (1.0, 1024, {})
    assert pod.source.startswith("default (") and "deployment.yaml" in pod.source
