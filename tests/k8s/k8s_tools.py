"""Helpers shared by the tests of this folder: the pinned tools, rendering, a repo copy."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from twinserve_support.paths import REPO  # noqa: E402

K8S = REPO / "k8s"
# The container's import path (core + Flask wrapper), spelled out so a test's subprocess
# does not depend on how the test runner's own path was set up.
SERVICE_PYTHONPATH = f"{REPO / 'shared'}{os.pathsep}{REPO / 'services' / 'predict-container'}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tools_bin() -> Path:
    """.venv-tools/bin with kubectl and a Python that has kubernetes-validate; skip (or fail
    under TWINSERVE_K8S_STRICT=1, as `make k8s-check` sets) when it is missing."""
    candidates = [Path(os.environ["TOOLS_BIN"])] if os.environ.get("TOOLS_BIN") else []
    candidates.append(REPO / ".venv-tools" / "bin")
    for candidate in candidates:
        if (candidate / "kubectl").is_file() and (candidate / "python").is_file():
            return candidate
    message = "kubectl / kubernetes-validate not installed: run `make setup-tools`"
    if os.environ.get("TWINSERVE_K8S_STRICT") == "1":
        pytest.fail(message)
    pytest.skip(message)


def render(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run([str(tools_bin() / "kubectl"), "kustomize", str(path)], check=True,
                         capture_output=True, text=True, timeout=60)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (c,) = [c for c in one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
            if c["name"] == "predict"]
    return c


def configmap(objects: list[dict[str, Any]]) -> dict[str, str]:
    return one(objects, "ConfigMap")["data"]


def copy_k8s(dest: Path) -> Path:
    """A private copy of k8s/ (the committed tree is never edited by a test)."""
    shutil.copytree(K8S, dest / "k8s")
    return dest / "k8s"
