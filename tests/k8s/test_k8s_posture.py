"""scripts/k8s_posture.py: who can reach the pods, checked on every rendered overlay.

tests/data/k8s/posture-before.yaml is the monitoring overlay (prod + ServiceMonitor) as it was
rendered before these checks: an open NetworkPolicy rule, a `/` path that routed /metrics, HTTP
only, and a ServiceMonitor on the serving port. Each check must find its problem there and none
in today's overlays.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import k8s_posture
import pytest
import yaml
from k8s_tools import K8S, REPO, container, one, render

BEFORE = REPO / "tests" / "data" / "k8s" / "posture-before.yaml"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
EDGE_ENV = K8S / "overlays" / "prod" / "edge.env"


@pytest.fixture(scope="module")
def before():
    return [d for d in yaml.safe_load_all(BEFORE.read_text()) if d]


@pytest.fixture(scope="module")
def rendered():
    return {name: render(K8S / "overlays" / name) for name in OVERLAYS}


def with_metrics_port(objects):
    """``objects`` with the container port `metrics` declared (what the Deployment serves it on)."""
    objects = copy.deepcopy(objects)
    ports = container(objects).setdefault("ports", [])
    if not any(p.get("name") == "metrics" for p in ports):
        ports.append({"name": "metrics", "containerPort": 9091, "protocol": "TCP"})
    return objects


@pytest.mark.parametrize(("check", "expected"), [
    ("network_policy", ["NetworkPolicy/twinserve-predict: ingress rule 0 has no `from`"]),
    ("ingress_paths", ["Ingress/twinserve-predict: path */ (Prefix) routes /metrics"]),
    ("ingress_tls", ["no HTTPS listener", "no ACM certificate ARN", "HTTP listener [80] serves instead"]),
    ("service_monitor", ["ServiceMonitor/twinserve-predict: scrapes Service port 'http'"]),
])
def test_each_check_fails_on_the_manifests_before_it(before, check, expected):
    # Even with a metrics port declared, the old routes and rules stay open.
    for objects in (before, with_metrics_port(before)):
        found = k8s_posture.CHECKS[check](objects)
        for text in expected:
            assert any(text in problem for problem in found), (text, found)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_is_closed(rendered, overlay):
    assert k8s_posture.problems(rendered[overlay]) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_is_closed_given_the_metrics_port(rendered, overlay):
    """The manifests' own part, whatever the Deployment's ports say today."""
    assert k8s_posture.problems(with_metrics_port(rendered[overlay])) == []


def edge_env() -> dict[str, str]:
    return dict(line.split("=", 1) for line in EDGE_ENV.read_text().splitlines()
                if line.strip() and not line.startswith("#"))


@pytest.mark.parametrize("overlay", ["prod", "monitoring"])
def test_prod_admits_the_load_balancer_cidr_and_the_monitoring_namespace(rendered, overlay):
    rules = one(rendered[overlay], "NetworkPolicy")["spec"]["ingress"]
    by_port = {rule["ports"][0]["port"]: rule["from"] for rule in rules}
    assert by_port == {
        "http": [{"ipBlock": {"cidr": edge_env()["LOAD_BALANCER_CIDR"]}}],
        "metrics": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
    }
    annotations = one(rendered[overlay], "Ingress")["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == edge_env()["CERTIFICATE_ARN"]
    assert not [o for o in rendered[overlay] if o["metadata"]["name"] == "twinserve-prod-edge"], \
        "the parameters' ConfigMap is local-config: never applied"


def test_dev_admits_the_ingress_controller_namespace_on_the_serving_port(rendered):
    rules = one(rendered["dev"], "NetworkPolicy")["spec"]["ingress"]
    assert rules[0]["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]
    assert [p["port"] for p in rules[0]["ports"]] == ["http"]


def test_prod_routes_only_the_prediction_paths_over_https(rendered):
    ingress = one(rendered["prod"], "Ingress")
    paths = [(p["path"], p["pathType"]) for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert paths == [("/predict", "Exact"), ("/v2/models/*/infer", "ImplementationSpecific")]
    annotations = ingress["metadata"]["annotations"]
    assert json.loads(annotations["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert annotations["alb.ingress.kubernetes.io/load-balancer-attributes"] == "idle_timeout.timeout_seconds=60"


NETWORK = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
           "spec": {"podSelector": {}, "ingress": []}}


@pytest.mark.parametrize(("rule", "message"), [
    ({"from": [{"namespaceSelector": {}}], "ports": [{"port": "http"}]}, "admits every namespace"),
    ({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": "http"}]}, "admits every address"),
    ({"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]}, "names no ports"),
    ({"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"port": 9091}]}, "ipBlock) on the metrics port"),
])
def test_network_policy_problems(rule, message):
    policy = copy.deepcopy(NETWORK)
    policy["spec"]["ingress"] = [rule]
    objects = with_metrics_port(render(K8S / "overlays" / "dev"))
    objects = [o for o in objects if o["kind"] != "NetworkPolicy"] + [policy]
    (problem,) = k8s_posture.network_policy(objects)
    assert message in problem


@pytest.mark.parametrize(("path", "path_type", "port", "message"), [
    ("/metrics", "Exact", {"name": "http"}, "routes /metrics"),
    ("/", "ImplementationSpecific", {"name": "http"}, "routes /metrics"),
    ("/predict", "Exact", {"name": "metrics"}, "not the serving port"),
    ("/predict", "Exact", {"number": 9091}, "not the serving port"),
    ("/predict", "Exact", {"name": "nope"}, "names no port of a Service"),
])
def test_ingress_path_problems(rendered, path, path_type, port, message):
    objects = with_metrics_port(rendered["prod"])
    ingress = one(objects, "Ingress")
    ingress["spec"]["rules"] = [{"http": {"paths": [
        {"path": path, "pathType": path_type, "backend": {"service": {"name": "twinserve-predict", "port": port}}}]}}]
    (problem,) = k8s_posture.ingress_paths(objects)
    assert message in problem


@pytest.mark.parametrize(("annotations", "message"), [
    ({"alb.ingress.kubernetes.io/ssl-redirect": "true"}, "serves instead of redirecting"),
    ({"alb.ingress.kubernetes.io/certificate-arn": "set-in-edge.env"}, "no ACM certificate ARN"),
    ({"alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}]'}, "no HTTPS listener"),
])
def test_ingress_tls_problems(rendered, annotations, message):
    objects = copy.deepcopy(rendered["prod"])
    one(objects, "Ingress")["metadata"]["annotations"].update(annotations)
    problems = k8s_posture.ingress_tls(objects)
    assert any(message in p for p in problems), problems


def test_a_non_alb_ingress_needs_spec_tls(rendered):
    objects = copy.deepcopy(rendered["prod"])
    one(objects, "Ingress")["spec"]["ingressClassName"] = "nginx"
    assert k8s_posture.ingress_tls(objects) == ["Ingress/twinserve-predict: no spec.tls: the Ingress serves plain HTTP only"]


def test_posture_cli_exits_1_with_one_line_per_problem():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "k8s_validate.py"), "posture", str(BEFORE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(k8s_posture.problems([d for d in yaml.safe_load_all(BEFORE.read_text()) if d]))
    assert all(line.startswith(f"FAIL {BEFORE}: ") for line in lines)
