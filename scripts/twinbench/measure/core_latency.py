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

import numpy as np
from twinserve.model_store import load_model
from twinserve.predictor import Predictor
from twinserve.responses import json_bytes
from twinserve.settings import Settings

from twinbench.measure.stats import nearest_rank

WARMUP_CALLS = 30


def _percentile(samples: list[float], q: float) -> float:
    return nearest_rank(sorted(samples), q)


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
        core_us: list[float] = []
        raw_us: list[float] = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            predictor.predict_body(body)
            t1 = time.perf_counter()
            estimator.predict(array)
            t2 = time.perf_counter()
            core_us.append((t1 - t0) * 1e6)
            raw_us.append((t2 - t1) * 1e6)
        core_p50, raw_p50 = statistics.median(core_us), statistics.median(raw_us)
        print(
            f"{kind:<8} {predictor.model.backend.name:<12} {core_p50:>12.1f} {raw_p50:>11.1f} "
            f"{core_p50 / raw_p50:>9.3f} {_percentile(core_us, 99):>12.1f} {repeats:>5}"
        )
    print("core = JSON bytes -> validation -> model -> JSON bytes; raw = estimator.predict(ndarray) only.")
    return 0
