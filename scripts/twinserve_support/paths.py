"""Paths inside the twinserve repository, derived once from this file's location.

The project is installed editable (``pip install -e .`` in ``make setup``), so this package
sits in the checkout and the manifests, serverless.yml and the model are found beside it.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVERLESS_YML = REPO / "serverless.yml"
K8S_DIR = REPO / "k8s"
K8S_BASE = K8S_DIR / "base"
CONTAINER_SERVICE = REPO / "services" / "predict-container"
LAMBDA_SERVICE = REPO / "services" / "predict-lambda"
LAMBDA_BUILD = REPO / "build" / "lambda"
RESULTS_DIR = REPO / "results"
DEFAULT_MODEL_DIR = REPO / "model"
