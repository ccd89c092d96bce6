"""The predictor pod's limits and server settings, read from the manifests (the one source).

:func:`predictor_limits` finds container ``predict`` of Deployment ``twinserve-predict`` in a list
of objects (a rendered overlay, ``kubectl kustomize`` output, or ``k8s/base/deployment.yaml``
itself) and returns its CPU and memory limits. :func:`pod_settings` is what a local run of the
container applies: those limits from ``k8s/base`` plus the ConfigMap generator's server
environment (``WEB_CONCURRENCY`` ...), falling back to 1 CPU / 1 GiB with the reason when the
manifests cannot be read, so a benchmark still runs and says what it used.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from twinserve_support.k8s.quantity import QuantityError, parse_quantity

__all__ = ["CONTAINER_NAME", "DEPLOYMENT_NAME", "ContainerLimits", "ManifestError", "PodSettings",
           "load_objects", "pod_settings", "predictor_limits"]

DEPLOYMENT_NAME = "twinserve-predict"
CONTAINER_NAME = "predict"
DEFAULT_CPUS = 1.0
DEFAULT_MEMORY_MB = 1024


class ManifestError(Exception):
    """The input is not what a rendered twinserve overlay looks like."""


def load_objects(path: Path) -> list[dict[str, Any]]:
    """All non-empty YAML documents of a file (``-`` = stdin). Raises :class:`ManifestError`."""
    try:
        text = sys.stdin.read() if str(path) == "-" else Path(path).read_text()
        docs = [d for d in yaml.safe_load_all(text) if d]
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"{path}: cannot read YAML: {exc}") from exc
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise ManifestError(f"{path}: a document without kind/apiVersion: {str(doc)[:80]}")
    return docs


@dataclass(frozen=True)
class ContainerLimits:
    """The predictor container's limits as written (``cpu``, ``memory``) and as numbers."""

    cpu_cores: Decimal
    memory_bytes: int
    cpu: str
    memory: str

    @property
    def memory_mb(self) -> int:
        """Whole MiB (podman ``--memory=<n>m`` and the cgroup limit take MiB)."""
        return self.memory_bytes // 2**20

    def as_dict(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "memory": self.memory,
                "cpu_cores": float(self.cpu_cores), "memory_bytes": self.memory_bytes}


def predictor_limits(objects: list[dict[str, Any]]) -> ContainerLimits:
    """Limits of container ``predict`` in Deployment ``twinserve-predict``.

    Raises :class:`ManifestError` if the Deployment, the container or either limit is missing,
    or a limit is not a Kubernetes quantity.
    """
    for obj in objects:
        if obj.get("kind") == "Deployment" and obj.get("metadata", {}).get("name") == DEPLOYMENT_NAME:
            for container in obj["spec"]["template"]["spec"]["containers"]:
                if container.get("name") == CONTAINER_NAME:
                    limits = (container.get("resources") or {}).get("limits") or {}
                    if "cpu" not in limits or "memory" not in limits:
                        raise ManifestError(f"container {CONTAINER_NAME} has no cpu and memory limits")
                    try:
                        cpu, memory = parse_quantity(limits["cpu"]), parse_quantity(limits["memory"])
                    except QuantityError as exc:
                        raise ManifestError(f"container {CONTAINER_NAME}: {exc}") from exc
                    return ContainerLimits(cpu_cores=cpu, memory_bytes=int(memory),
                                           cpu=str(limits["cpu"]), memory=str(limits["memory"]))
            raise ManifestError(f"Deployment {DEPLOYMENT_NAME} has no container {CONTAINER_NAME}")
    raise ManifestError(f"no Deployment {DEPLOYMENT_NAME} in the manifests")


@dataclass(frozen=True)
class PodSettings:
    """What a local run of the container applies: the pod's limits and its server environment."""

    cpus: float
    memory_mb: int
    env: dict[str, str] = field(default_factory=dict)
    source: str = ""
    """Where the limits came from (a manifest path, or ``default (<why>)``)."""


def pod_settings(k8s_base: Path | None = None) -> PodSettings:
    """The predictor pod's limits (``deployment.yaml``) and ConfigMap literals (``kustomization.yaml``).

    ``k8s_base`` defaults to the checkout's ``k8s/base``. Never raises: with a missing or odd
    manifest the limits are 1 CPU / 1 GiB and ``source`` says why.
    """
    from twinserve_support.paths import K8S_BASE, REPO

    base = Path(k8s_base) if k8s_base is not None else K8S_BASE
    deployment = base / "deployment.yaml"
    cpus, memory_mb = DEFAULT_CPUS, DEFAULT_MEMORY_MB
    try:
        limits = predictor_limits(load_objects(deployment))
        cpus, memory_mb = float(limits.cpu_cores), limits.memory_mb
        source = str(deployment.relative_to(REPO)) if deployment.is_relative_to(REPO) else str(deployment)
    except (ManifestError, KeyError, TypeError) as exc:
        source = f"default ({exc})"
    env: dict[str, str] = {}
    with contextlib.suppress(OSError, KeyError, TypeError, AttributeError, yaml.YAMLError):
        for generator in yaml.safe_load((base / "kustomization.yaml").read_text()).get("configMapGenerator", []):
            for literal in generator.get("literals", []):
                key, _, value = str(literal).partition("=")
                env[key] = value
    return PodSettings(cpus=cpus, memory_mb=memory_mb, env=env, source=source)
