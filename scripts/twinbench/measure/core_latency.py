"""``make bench-core`` (``twinbench bench-core``): what the core costs on top of the model, per row.

For each default model: median latency of the core's full predict path (JSON bytes in ->
validated array -> ONNX Runtime -> JSON bytes out) next to the raw ``estimator.predict`` on the
same row as a ready numpy array, and their ratio. Calls of the two are interleaved so machine
drift hits both alike.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from twinserve.model_store import load_model
from twinserve.predictor import Predictor
from twinserve.responses import json_bytes
from twinserve.settings import Settings

from twinbench.measure.stats import nearest_rank

WARMUP_CALLS = 30


def _percentile(samples: list[float], q: float) -> float:
    return nearest_rank(sorted(samples), q)


def _interleaved(predictor: Predictor, estimator: Any, bodies: list[bytes], inputs: list[Any],
                 repeats: int) -> tuple[list[float], list[float]]:
    """(core µs, raw µs) per call, the two interleaved so machine drift hits both alike; bodies and
    the model's inputs round-robin in step."""
    core_us: list[float] = []
    raw_us: list[float] = []
    for i in range(repeats):
        t0 = time.perf_counter()
        predictor.predict_body(bodies[i % len(bodies)])
        t1 = time.perf_counter()
        estimator.predict(inputs[i % len(inputs)])
        t2 = time.perf_counter()
        core_us.append((t1 - t0) * 1e6)
        raw_us.append((t2 - t1) * 1e6)
    return core_us, raw_us


def run_bench_core(models: list[str], repeats: int, work_dir: Path) -> int:
    import skops.io as sio
    from twinserve.training import train
    from twinserve.trusted_types import TRUSTED_SKOPS_TYPES

    print(f"{'model':<8} {'backend':<12} {'core p50 µs':>12} {'raw p50 µs':>11} {'core/raw':>9} {'core p99 µs':>12} {'n':>5}")
    for kind in models:
        out = work_dir / kind
        document = train(kind, out)
        settings = Settings(model_path=out)
        predictor = Predictor(load_model(settings), settings)
        estimator = sio.load(out / document["artefacts"]["source"]["path"], trusted=sorted(TRUSTED_SKOPS_TYPES))
        row = document["example_row"]
        body = json_bytes({"features": row})
        array = np.asarray(row, dtype=np.float64).reshape(1, -1)
        for _ in range(WARMUP_CALLS):
            predictor.predict_body(body)
            estimator.predict(array)
        core_us, raw_us = _interleaved(predictor, estimator, [body], [array], repeats)
        core_p50, raw_p50 = statistics.median(core_us), statistics.median(raw_us)
        print(
            f"{kind:<8} {predictor.model.backend.name:<12} {core_p50:>12.1f} {raw_p50:>11.1f} "
            f"{core_p50 / raw_p50:>9.3f} {_percentile(core_us, 99):>12.1f} {repeats:>5}"
        )
    print("core = JSON bytes -> validation -> model -> JSON bytes; raw = estimator.predict(ndarray) only.")
    return 0


_COLD_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import handler
from twinserve_support.sample_events import event_for
t1 = time.perf_counter()
answer = handler.handler(event_for("http_api_v2.json", "POST", "/predict", sys.argv[2].encode(), "application/json"), None)
t2 = time.perf_counter()
print(json.dumps({"init_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000, "status": answer["statusCode"]}))
"""


def run_bench_registered(model_dirs: list[Path], repeats: int, cold_repeats: int = 5) -> int:
    """For each registered model: the core's per-row latency on the model's own sample rows
    (round-robin) next to the raw estimator on the same rows as it was fitted on them, and the
    native Lambda handler's cold start in fresh processes (this interpreter, bytecode cached)."""
    import json
    import os
    import subprocess
    import sys

    import skops.io as sio
    from twinserve.backends import model_input
    from twinserve.contract import parse_body
    from twinserve.samples import example_bodies
    from twinserve.trusted_types import TRUSTED_SKOPS_TYPES
    from twinserve_support.paths import REPO

    print(f"{'model':<22} {'backend':<12} {'core p50 µs':>12} {'raw p50 µs':>11} {'core p99 µs':>12} "
          f"{'cold init ms':>13} {'first ms':>9} {'n':>5}")
    for model_dir in model_dirs:
        settings = Settings(model_path=model_dir)
        predictor = Predictor(load_model(settings), settings)
        meta = predictor.model.metadata
        trusted = sorted(TRUSTED_SKOPS_TYPES | set(meta.trusted_types))
        estimator = sio.load(model_dir / meta.source.path, trusted=trusted)
        bodies = example_bodies(meta, predictor.model.samples)
        inputs = [model_input(parse_body(b, predictor.spec), meta.schema) for b in bodies]
        for i in range(WARMUP_CALLS):
            predictor.predict_body(bodies[i % len(bodies)])
            estimator.predict(inputs[i % len(inputs)])
        core_us, raw_us = _interleaved(predictor, estimator, bodies, inputs, repeats)
        colds = []
        env = {**os.environ, "MODEL_PATH": str(model_dir)}
        for _ in range(cold_repeats):
            done = subprocess.run([sys.executable, "-c", _COLD_CHILD, str(REPO / "services" / "predict-lambda"),
                                   bodies[0].decode()], env=env, capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                print(f"{model_dir}: the handler failed to start: {done.stderr.strip().splitlines()[-1:]}")
                return 1
            colds.append(json.loads(done.stdout.strip().splitlines()[-1]))
        init_ms = statistics.median(c["init_ms"] for c in colds)
        first_ms = statistics.median(c["first_ms"] for c in colds)
        print(f"{meta.name[:22]:<22} {predictor.model.backend.name:<12} {statistics.median(core_us):>12.1f} "
              f"{statistics.median(raw_us):>11.1f} {_percentile(core_us, 99):>12.1f} {init_ms:>13.0f} "
              f"{first_ms:>9.1f} {repeats:>5}")
    print("measured locally: core = JSON bytes -> validation -> model -> JSON bytes on the registered rows, "
          "round-robin; raw = estimator.predict on the same rows as it was fitted on them; cold = a fresh "
          f"process importing the native handler (init: imports + model load + self-test), medians of {cold_repeats}.")
    return 0
