"""What the simulation takes from a ``make bench`` run (``--from results/<ts>``), or its defaults.

From ``results.json`` (schema: scripts/twinbench/results/schemas/results.schema.json):

* Lambda duration: ``scenarios.warm.lambda.samples_ms`` (warm latencies measured through the
  local Lambda: duration plus the emulator's overhead, so slightly pessimistic).
* Lambda INIT: ``scenarios.cold_start.lambda.samples[].init_ms`` (verified cold starts).
* Container service time: ``scenarios.warm.container.samples_ms``.
* Pod capacity: ``scenarios.scalability.container.knee_rps`` (highest rate with p99 under
  the SLO for one pod under the k8s limits).
* Memory: ``lambda_reports.*.memory_size_mb``.

Anything missing keeps its default and is listed in ``Inputs.notes``, so the document says
which figures were measured and which were assumed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinbench.simulate.errors import InputsError
from twinbench.simulate.params import DEFAULT_INIT_QUANTILES, DEFAULT_SERVICE_QUANTILES, ServiceTime

__all__ = ["Inputs", "default_inputs", "inputs_from_results"]

DEFAULT_POD_CAPACITY_RPS = 400.0
DEFAULT_MEMORY_MB = 1024


@dataclass(frozen=True)
class Inputs:
    lambda_duration: ServiceTime
    lambda_init: ServiceTime
    container_service: ServiceTime
    pod_capacity_rps: float
    memory_mb: int
    source: str
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "pod_capacity_rps": self.pod_capacity_rps, "memory_mb": self.memory_mb,
                "notes": list(self.notes)}


def default_inputs() -> Inputs:
    svc = ServiceTime.from_quantiles("service time", DEFAULT_SERVICE_QUANTILES, "default quantiles")
    init = ServiceTime.from_quantiles("Lambda init", DEFAULT_INIT_QUANTILES, "default quantiles")
    return Inputs(svc, init, svc, DEFAULT_POD_CAPACITY_RPS, DEFAULT_MEMORY_MB, "defaults",
                  ("no --from: default service times, init and pod capacity (placeholders, not measurements)",))


def _positive_samples(values: Any) -> list[float]:
    if not isinstance(values, list):
        return []
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v) and v >= 0]


def inputs_from_results(folder: str | Path) -> Inputs:
    """Read a bench results folder (or its results.json); raises InputsError if unusable."""
    path = Path(folder)
    if path.is_dir():
        path = path / "results.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputsError(f"{path}: not a JSON results document ({exc})") from None
    if not isinstance(doc, dict) or "scenarios" not in doc:
        raise InputsError(f"{path}: not a twinbench results document (no 'scenarios')")
    base = default_inputs()
    notes: list[str] = []
    scenarios = doc.get("scenarios") or {}
    warm = scenarios.get("warm") or {}

    def samples(target: str, default: ServiceTime, label: str) -> ServiceTime:
        values = _positive_samples((warm.get(target) or {}).get("samples_ms"))
        if values and max(values) > 0:
            return ServiceTime(label, values, f"{path}: scenarios.warm.{target}.samples_ms (n={len(values)})")
        notes.append(f"no warm {target} samples: {label} uses the default")
        return default

    lam_dur = samples("lambda", base.lambda_duration, "Lambda duration")
    ctr = samples("container", base.container_service, "container service time")
    cold = (scenarios.get("cold_start") or {}).get("lambda") or {}
    inits = _positive_samples([s.get("init_ms") for s in cold.get("samples", []) if isinstance(s, dict)
                               and s.get("verified_cold") is not False])
    if inits and max(inits) > 0:
        init = ServiceTime("Lambda init", inits, f"{path}: scenarios.cold_start.lambda.samples[].init_ms (n={len(inits)})")
    else:
        init = base.lambda_init
        notes.append("no Lambda cold-start samples: init uses the default")
    knee = ((scenarios.get("scalability") or {}).get("container") or {}).get("knee_rps")
    if isinstance(knee, (int, float)) and math.isfinite(knee) and knee > 0:
        capacity = float(knee)
    else:
        capacity = base.pod_capacity_rps
        notes.append(f"no container knee: pod capacity uses the default {capacity:g} req/s")
    memory = next((int(r["memory_size_mb"]) for r in (doc.get("lambda_reports") or {}).values()
                   if isinstance(r, dict) and isinstance(r.get("memory_size_mb"), int)), None)
    if memory is None:
        memory = base.memory_mb
        notes.append(f"no Lambda memory size in the reports: {memory} MB assumed")
    return Inputs(lam_dur, init, ctr, capacity, memory, str(path), tuple(notes))
