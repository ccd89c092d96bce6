"""One settings object for the core, read from the environment when a service starts.

Nothing is read at import time: wrappers call :meth:`Settings.from_env` inside their
factory / init, and tests pass explicit values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Every environment variable the core reads, named once.
ENV_MODEL_PATH = "MODEL_PATH"
ENV_MAX_ROWS = "MAX_ROWS"
ENV_MAX_BODY_BYTES = "MAX_BODY_BYTES"
ENV_SERVING_BACKEND = "SERVING_BACKEND"
ENV_MODEL_FORMAT = "MODEL_FORMAT"
# The deployment's own pin of the artefact the service loads (see Settings.model_sha256).
ENV_MODEL_SHA256 = "MODEL_SHA256"

DEFAULT_MAX_ROWS = 1_000
# 1,000 rows x 30 features of full-precision floats is ~750 KB of JSON; 1 MiB leaves room
# and stays far below Lambda's 6 MB synchronous payload limit.
DEFAULT_MAX_BODY_BYTES = 1_048_576


def _default_model_path() -> Path:
    """``model/`` beside the code: the repo root in a checkout, the task root in a Lambda zip."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "model", here.parent.parent / "model"):
        if (candidate / "metadata.json").exists():
            return candidate
    return here.parent.parent / "model"


@dataclass(frozen=True)
class Settings:
    """Core settings.

    model_path: directory holding ``metadata.json`` and the artefacts it names.
    max_rows: largest batch accepted (more -> 413 ``too_many_rows``).
    max_body_bytes: largest request body accepted (more -> 413 ``payload_too_large``).
    serving_backend: ``auto`` (ONNX when the model has an ONNX form), ``onnx`` or ``sklearn``.
    model_format: source artefact format the sklearn backend accepts: ``skops`` (default;
        loaded with an explicit trust list) or ``joblib`` (opt-in: pickle runs code on load,
        accepted only because its SHA-256 is pinned in metadata).
    model_sha256: expected SHA-256 (64 hex digits) of the artefact the service loads, set by
        the deployment (serverless.yml param, Kubernetes ConfigMap). When set it replaces the
        pin in ``metadata.json``: whoever can replace the model folder can rewrite that file
        too, while the deployment's configuration sits behind a separate trust boundary.
        ``None`` (unset or empty) keeps the pin in ``metadata.json``.
    """

    model_path: Path
    max_rows: int = DEFAULT_MAX_ROWS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    serving_backend: str = "auto"
    model_format: str = "skops"
    model_sha256: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        path = env.get(ENV_MODEL_PATH)
        return cls(
            model_path=Path(path) if path else _default_model_path(),
            max_rows=int(env.get(ENV_MAX_ROWS, DEFAULT_MAX_ROWS)),
            max_body_bytes=int(env.get(ENV_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES)),
            serving_backend=env.get(ENV_SERVING_BACKEND, "auto"),
            model_format=env.get(ENV_MODEL_FORMAT, "skops"),
            # Empty means unset: a ConfigMap or a CloudFormation parameter cannot omit a key.
            model_sha256=env.get(ENV_MODEL_SHA256, "").strip() or None,
        )
