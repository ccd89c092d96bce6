"""Turn the chosen configurations into files the deploy tools take.

* ``DIR/lambda-params.json``: serverless.yml params (``{"params": {...}}`` with the provenance
  under ``_source``), taken by ``scripts/deploy_lambda.sh --params-file``; an hourly
  provisioned-concurrency schedule as ``provisionedSchedule`` (``none`` without one); the chosen
  front door as ``frontDoor`` (with ``functionUrl: true`` for the Function URL, which
  serverless.yml adds only when asked).
* ``DIR/k8s/kustomization.yaml``: an overlay on ``k8s/base`` (referenced by a relative path, so
  the folder can move with the repository) that patches the HPA (range, target, and the chosen
  scale-up/scale-down behaviour when not the shipped one), the Deployment's
  CPU/memory and the gunicorn workers (the generated ConfigMap, so a change rolls the pods).

The node type, the provisioner and the node minimum are cluster settings, not manifests: they are
written as comments in the overlay (``cluster_notes``) and printed with the deploy commands. On EKS
on Fargate, the overlay labels the pods ``FARGATE_LABEL`` (kustomize ``labels``, templates only) and
the comment names the Fargate profile's selector: namespace ``NAMESPACE`` and that label.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from twinserve_support.paths import REPO

from twinbench.cost import pc_schedule
from twinbench.recommend.space import FAST_SCALE_DOWN, FAST_SCALE_UP, KubeChoice, LambdaChoice

__all__ = ["WriteError", "deploy_commands", "front_door_note", "lambda_params", "write_all", "write_kube_overlay",
           "write_lambda_params"]


NAMESPACE = "twinserve"
"""k8s/base's namespace: what a Fargate profile must select."""
FARGATE_LABEL = ("twinserve-compute", "fargate")
"""The pod label the overlay adds on Fargate, for the Fargate profile's label selector."""


class WriteError(OSError):
    """The output folder or a file in it could not be written."""


def lambda_params(c: LambdaChoice) -> dict[str, Any]:
    """serverless.yml params for a choice (names as serverless.yml's ``params.default``)."""
    # An hourly schedule deploys on the alias that a constant count creates: its smallest hour.
    constant = min(c.provisioned_schedule) if c.provisioned_schedule else c.provisioned_concurrency
    out: dict[str, Any] = {"arch": c.architecture, "memoryMb": c.memory_mb,
                           "provisionedConcurrency": constant,
                           "provisionedSchedule": pc_schedule.render(c.provisioned_schedule),
                           "reservedConcurrency": c.reserved_concurrency if c.reserved_concurrency is not None else 100,
                           "snapStart": bool(c.snapstart)}
    if c.throttle_rate_rps is not None:
        out["throttleRateLimit"] = int(c.throttle_rate_rps) if float(c.throttle_rate_rps).is_integer() \
            else c.throttle_rate_rps
    if c.throttle_burst is not None:
        out["throttleBurstLimit"] = int(c.throttle_burst)
    out["frontDoor"] = c.front_door
    if c.front_door == "function-url":
        out["functionUrl"] = True  # serverless.yml adds the (IAM-auth) Function URL only when asked
    return out


def front_door_note(c: LambdaChoice) -> str:
    """How callers reach the chosen front door, one line."""
    if c.front_door == "function-url":
        return ("# front door: the Function URL (IAM auth): sign each request with SigV4, e.g. "
                "twinserve predict --url https://<id>.lambda-url.<region>.on.aws --sigv4 --csv rows.csv "
                "(the caller needs lambda:InvokeFunctionUrl; the URL is in the deploy's output)")
    return ("# front door: the HTTP API (route throttling applies): "
            "twinserve predict --url https://<api-id>.execute-api.<region>.amazonaws.com --csv rows.csv")


def write_lambda_params(c: LambdaChoice, folder: Path, source: str) -> Path:
    path = folder / "lambda-params.json"
    doc = {"_source": source, "_call": front_door_note(c).removeprefix("# "), "params": lambda_params(c)}
    _write(path, json.dumps(doc, indent=1) + "\n")
    return path


def _cpu(m: int) -> str:
    return f"{m // 1000}" if m % 1000 == 0 else f"{m}m"


def _behavior_patch(direction: str, chosen: str, behavior: dict[str, Any]) -> str:
    """A JSON-patch op replacing ``/spec/behavior/<direction>`` with ``behavior``; none when ``chosen`` is "shipped"."""
    if chosen == "shipped":
        return ""
    pol = "\n".join(f"            - type: {p['type']}\n              value: {p['value']}\n"
                    f"              periodSeconds: {p['periodSeconds']}" for p in behavior["policies"])
    return (f"      - op: replace\n        path: /spec/behavior/{direction}\n        value:\n"
            f"          stabilizationWindowSeconds: {behavior['stabilizationWindowSeconds']}\n"
            f"          selectPolicy: {behavior['selectPolicy']}\n          policies:\n{pol}\n")


def _behavior_patches(c: KubeChoice) -> str:
    return _behavior_patch("scaleUp", c.scale_up, FAST_SCALE_UP) + _behavior_patch("scaleDown", c.scale_down,
                                                                                  FAST_SCALE_DOWN)


def cluster_notes(c: KubeChoice, min_nodes: int | None) -> list[str]:
    """What the cluster must be set to, outside the manifests (one line each)."""
    if c.provisioner == "fargate":
        key, value = FARGATE_LABEL
        return ["EKS on Fargate: no nodes. Create a Fargate profile selecting namespace "
                f"{NAMESPACE} with the label {key}={value} (this overlay adds it to the pods); "
                "the pods must not also match a node group's scheduling."]
    lines = [f"nodes {c.instance_type}, provisioned by {c.provisioner}"]
    if min_nodes is not None:
        where = "the NodePool's capacity floor (a static NodePool or a placeholder Deployment)" \
            if c.provisioner == "karpenter" else "the node group's minSize (eksctl minSize / ASG MinSize)"
        lines.append(f"keep at least {min_nodes} node(s) up ({c.warm_nodes} warm beyond what minReplicas "
                     f"fill): {where}")
    return lines


def _labels(c: KubeChoice) -> str:
    if c.provisioner != "fargate":
        return ""
    key, value = FARGATE_LABEL
    return (f"\nlabels:\n  - pairs:\n      {key}: {value}\n    includeSelectors: false\n"
            "    includeTemplates: true\n")


def overlay_text(c: KubeChoice, base_rel: str, source: str, min_nodes: int | None = None) -> str:
    mem = f"{c.pod_memory_mib // 1024}Gi" if c.pod_memory_mib % 1024 == 0 else f"{c.pod_memory_mib}Mi"
    notes = "\n".join(f"#   {line}" for line in cluster_notes(c, min_nodes))
    return f"""# Written by `twinbench recommend --write`: {source}
# Cluster settings the manifests cannot carry:
{notes}
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization

resources:
  - {base_rel}
{_labels(c)}
configMapGenerator:
  - name: twinserve-predict-config
    behavior: merge
    literals:
      - WEB_CONCURRENCY={c.workers}

patches:
  - target:
      group: autoscaling
      version: v2
      kind: HorizontalPodAutoscaler
      name: twinserve-predict
    patch: |-
      - op: replace
        path: /spec/minReplicas
        value: {c.min_replicas}
      - op: replace
        path: /spec/maxReplicas
        value: {c.max_replicas}
      - op: replace
        path: /spec/metrics/0/resource/target/averageUtilization
        value: {round(c.target_utilization * 100)}
{_behavior_patches(c)}  - target:
      group: apps
      version: v1
      kind: Deployment
      name: twinserve-predict
    patch: |-
      - op: test
        path: /spec/template/spec/containers/0/name
        value: predict
      - op: replace
        path: /spec/template/spec/containers/0/resources/requests/cpu
        value: "{_cpu(c.pod_cpu_m)}"
      - op: replace
        path: /spec/template/spec/containers/0/resources/limits/cpu
        value: "{_cpu(c.pod_cpu_m)}"
      - op: replace
        path: /spec/template/spec/containers/0/resources/requests/memory
        value: {mem}
      - op: replace
        path: /spec/template/spec/containers/0/resources/limits/memory
        value: {mem}
"""


def write_kube_overlay(c: KubeChoice, folder: Path, source: str, base: Path | None = None,
                       min_nodes: int | None = None) -> Path:
    out = folder / "k8s"
    base = base or REPO / "k8s" / "base"
    rel = os.path.relpath(base.resolve(), out.resolve())
    path = out / "kustomization.yaml"
    _write(path, overlay_text(c, rel, source, min_nodes))
    return path


def deploy_commands(folder: Path, written: dict[str, Path], kube: KubeChoice | None = None,
                    min_nodes: int | None = None, lam: LambdaChoice | None = None) -> list[str]:
    """The two deploy commands (and, for the cluster, the node settings the manifests cannot carry;
    for Lambda, how to call the chosen front door)."""
    cmds = []
    if "lambda" in written:
        cmds.append(f"scripts/deploy_lambda.sh --stage dev --region eu-west-1 --params-file {written['lambda']}")
        if lam is not None:
            cmds.append(front_door_note(lam))
    if "kubernetes" in written:
        cmds.append(f"kubectl apply -k {written['kubernetes'].parent}")
        if kube is not None:
            cmds += [f"# cluster: {line}" for line in cluster_notes(kube, min_nodes)]
    return cmds


def write_all(doc: dict[str, Any], choices: dict[str, LambdaChoice | KubeChoice], folder: str | Path) -> dict[str, Path]:
    """Write what was chosen (the best feasible, else nothing for that platform); raises WriteError."""
    out = Path(folder)
    source = f"cheapest configuration meeting p{doc['slo']['percentile']:g} <= {doc['slo']['latency_ms']:g} ms, " \
             f"errors <= {doc['slo']['error_budget']:g}, simulated on {doc['profile'].get('name')} ({doc['created']})"
    written: dict[str, Path] = {}
    for name, c in choices.items():
        if isinstance(c, LambdaChoice):
            written[name] = write_lambda_params(c, out, source)
        else:
            best = (doc.get("platforms", {}).get(name) or {}).get("best") or {}
            written[name] = write_kube_overlay(c, out, source, min_nodes=best.get("min_nodes"))
    return written


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
