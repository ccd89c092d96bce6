"""What a kustomize overlay and a serverless.yml parameters file change in the simulation.

``--overlay DIR`` already applies the overlay's HPA patches (``hpa.load_hpa_spec``); this module
reads the rest a written recommendation carries: the predict container's CPU and memory
(JSON-patch ``replace`` of ``containers/0/resources``) and the gunicorn workers
(``WEB_CONCURRENCY`` in the merged ConfigMap literals). ``--lambda-params FILE`` reads a
parameters file (``{"params": {...}}`` or flat), the one ``scripts/deploy_lambda.sh
--params-file`` deploys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinbench.cost import pc_schedule
from twinbench.simulate.errors import InputsError

__all__ = ["LambdaFileParams", "OverlayPod", "read_lambda_params", "read_overlay_pod"]


@dataclass(frozen=True)
class OverlayPod:
    cpu_m: float | None = None
    memory_mib: float | None = None
    workers: int | None = None


@dataclass(frozen=True)
class LambdaFileParams:
    memory_mb: int | None = None
    architecture: str | None = None
    provisioned_concurrency: int | None = None
    reserved_concurrency: int | None = None
    snapstart: bool | None = None
    throttle_rate_rps: float | None = None
    throttle_burst: int | None = None
    provisioned_schedule: tuple[int, ...] = ()
    """``provisionedSchedule``: 24 hourly counts (UTC), ``()`` for none; it replaces the constant."""
    front_door: str | None = None
    """``frontDoor``: "http-api" or "function-url" (the recommendation's choice), None when absent."""


def _cpu_m(text: Any) -> float:
    t = str(text).strip()
    return float(t[:-1]) if t.endswith("m") else float(t) * 1000.0


def _mib(text: Any) -> float:
    t = str(text).strip()
    for suffix, f in (("Gi", 1024.0), ("Mi", 1.0), ("G", 1e9 / 2**20), ("M", 1e6 / 2**20)):
        if t.endswith(suffix):
            return float(t[: -len(suffix)]) * f
    return float(t) / 2**20


def read_overlay_pod(overlay: str | Path) -> OverlayPod:
    """The pod settings an overlay patches; raises InputsError on an unreadable overlay."""
    import yaml

    path = Path(overlay)
    if path.is_dir():
        path = path / "kustomization.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        cpu = mem = None
        workers = None
        for patch in doc.get("patches") or []:
            if (patch.get("target") or {}).get("kind") != "Deployment" or not isinstance(patch.get("patch"), str):
                continue
            for op in yaml.safe_load(patch["patch"]) or []:
                p = str(op.get("path", ""))
                if op.get("op") != "replace" or "/containers/0/resources/" not in p:
                    continue
                if p.endswith("/limits/cpu"):
                    cpu = _cpu_m(op["value"])
                elif p.endswith("/limits/memory"):
                    mem = _mib(op["value"])
        for gen in doc.get("configMapGenerator") or []:
            for lit in gen.get("literals") or []:
                key, _, value = str(lit).partition("=")
                if key == "WEB_CONCURRENCY":
                    workers = int(value)
    except OSError as exc:
        raise InputsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (yaml.YAMLError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputsError(f"{path}: not an overlay this reader understands ({exc})") from None
    return OverlayPod(cpu, mem, workers)


FRONT_DOORS = ("http-api", "function-url")
"""The doors serverless.yml deploys (it has no REST API)."""


def _front_door(value: Any) -> str | None:
    if value is None:
        return None
    if value not in FRONT_DOORS:
        raise ValueError(f"frontDoor must be one of {', '.join(FRONT_DOORS)}, got {value!r}")
    return str(value)


ARCHITECTURES = ("x86_64", "arm64")
"""The architectures Lambda runs (and prices.json prices)."""


def _whole(params: dict[str, Any], key: str) -> int | None:
    """``params[key]`` as a whole number, None when absent; 1.5, true, "abc" or 1e309 raise ValueError."""
    if key not in params:
        return None
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{key} must be a whole number, got {value!r}") from None
    if not number.is_integer():  # also False for nan and inf
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    return int(number)


def _architecture(value: Any) -> str | None:
    if value is not None and value not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {value!r}")
    return value


def _snapstart(value: Any) -> bool | None:
    if value is None:
        return None
    text = str(value).lower()
    if text not in ("true", "false"):
        raise ValueError(f"snapStart must be true or false, got {value!r}")
    return text == "true"


def read_lambda_params(file: str | Path) -> LambdaFileParams:
    """A serverless.yml parameters file; raises InputsError."""
    path = Path(file)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        params = doc.get("params", doc)
        return LambdaFileParams(
            _whole(params, "memoryMb"), _architecture(params.get("arch")),
            _whole(params, "provisionedConcurrency"), _whole(params, "reservedConcurrency"),
            _snapstart(params.get("snapStart")),
            float(params["throttleRateLimit"]) if "throttleRateLimit" in params else None,
            _whole(params, "throttleBurstLimit"),
            pc_schedule.parse(params.get("provisionedSchedule", pc_schedule.NONE)),
            _front_door(params.get("frontDoor")))
    except OSError as exc:
        raise InputsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise InputsError(f"{path}: not a parameters file ({exc})") from None
