"""The image each overlay runs, its pull policy, the model pin and prod's ALB Ingress.

`kubectl apply -k k8s/` (dev) must run on a local cluster with the image `make image` tags
loaded into the node; prod must be pinned by digest and reachable through the AWS Load
Balancer Controller.
"""

from __future__ import annotations

import json
import re
import tomllib

import pytest
import yaml
from k8s_tools import K8S, REPO, configmap, container, one, render

IMAGE_MK = REPO / "mk" / "image.mk"


@pytest.fixture(scope="module")
def dev():
    return render(K8S / "overlays" / "dev")


@pytest.fixture(scope="module")
def prod():
    return render(K8S / "overlays" / "prod")


def make_image_default() -> str:
    """IMAGE as `make image` tags it: IMAGE_REPO from mk/image.mk, pyproject's version."""
    repo = re.search(r"^IMAGE_REPO \?= (\S+)$", IMAGE_MK.read_text(), re.MULTILINE)
    assert repo, "IMAGE_REPO not found in mk/image.mk"
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    return f"{repo.group(1)}:{version}"


def test_default_render_runs_the_image_make_image_builds_without_pulling(dev):
    assert render(K8S) == dev, "`kubectl apply -k k8s/` must deploy overlays/dev"
    c = container(dev)
    assert c["image"] == make_image_default(), "run `make k8s-image` after a version bump"
    assert c["imagePullPolicy"] == "IfNotPresent", "a node-loaded image cannot be pulled from localhost/"


def test_prod_is_pinned_by_digest_and_pulled_always(prod):
    c = container(prod)
    assert re.fullmatch(r"[a-z0-9.:/-]+/twinserve-predict@sha256:[0-9a-f]{64}", c["image"]), c["image"]
    assert c["imagePullPolicy"] == "Always"
    entry = next(i for i in yaml.safe_load((K8S / "overlays" / "prod" / "kustomization.yaml").read_text())["images"]
                 if i["name"] == "twinserve-predict")
    assert set(entry) == {"name", "newName", "digest"}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_overlay_replaces_the_placeholder_image(overlay):
    assert container(render(K8S / "overlays" / overlay))["image"] != "twinserve-predict"
    assert "images" not in yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())


def test_checkov_skips_only_in_dev_and_only_the_image_checks(dev, prod):
    def skips(objects):
        return {k: v for o in objects for k, v in (o["metadata"].get("annotations") or {}).items()
                if k.startswith("checkov.io/skip")}
    assert skips(prod) == {}, "prod passes every checkov check without a skip"
    assert sorted(v.split("=", 1)[0] for v in skips(dev).values()) == ["CKV_K8S_15", "CKV_K8S_43"]
    assert all(len(v.split("=", 1)[1]) > 40 for v in skips(dev).values()), "a skip needs a reason"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_configmap_carries_an_empty_model_pin_by_default(overlay):
    """Committed: no pin (no model is committed, so no hash is known); `make k8s-image`
    writes one into the overlay's model.env."""
    objects = render(K8S / "overlays" / overlay)
    assert configmap(objects)["MODEL_SHA256"] == ""
    assert (K8S / "overlays" / overlay / "model.env").read_text().splitlines()[-1] == "MODEL_SHA256="


def test_prod_ingress_is_an_alb_with_ip_targets_checking_ready(prod):
    ingress = one(prod, "Ingress")
    service = one(prod, "Service")
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert annotations["alb.ingress.kubernetes.io/target-type"] == "ip"
    # The ALB checks the core's /ready on the serving port (the traffic port): the metrics port,
    # where the kubelet's probes go, admits the monitoring namespace only.
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/ready"
    assert annotations["alb.ingress.kubernetes.io/healthcheck-port"] == "traffic-port"
    assert json.loads(annotations["alb.ingress.kubernetes.io/listen-ports"])
    (rule,) = ingress["spec"]["rules"]
    for path in rule["http"]["paths"]:
        backend = path["backend"]["service"]
        assert backend["name"] == service["metadata"]["name"]
        assert backend["port"] == {"name": "http"}
    assert ingress["metadata"]["namespace"] == service["metadata"]["namespace"]
    # In-flight requests get the ALB's deregistration delay; the pod must outlive it.
    delay = re.search(r"deregistration_delay\.timeout_seconds=(\d+)",
                      annotations["alb.ingress.kubernetes.io/target-group-attributes"])
    grace = one(prod, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert delay and int(delay.group(1)) < grace
    # A rollout waits for the ALB to see new pods healthy (the controller's readiness gate).
    labels = one(prod, "Namespace")["metadata"]["labels"]
    assert labels["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"


def test_dev_has_no_ingress(dev):
    assert not [o for o in dev if o["kind"] == "Ingress"], "a local cluster has no AWS Load Balancer Controller"
