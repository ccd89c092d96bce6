"""``make bench-core`` (``twinbench bench-core``): what the core costs on top of the model, per row.

For each default model (or registered one): median latency of the core's full predict path (JSON
bytes in -> validated input -> model -> JSON bytes out) next to the raw ``estimator.predict`` on
the same rows as it was fitted on them, and their ratio; the rows are the model's registered
samples, round-robin.

Each is timed in its own warm loop, as a server calls the core back to back: a core call timed
right after a raw call of a 100-tree forest (or after any pause) finds its caches taken and
costs several times a warm one. Blocks of core calls and blocks of raw calls alternate, so
machine drift still hits both alike; the first calls of each block are not timed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from twinserve.model_store import load_model
from twinserve.predictor import Predictor
from twinserve.settings import Settings

from twinbench.measure.stats import nearest_rank
from twinbench.results.envinfo import load_average

WARMUP_CALLS = 30
BLOCK_CALLS = 20  # timed calls per block; core and raw blocks alternate
BLOCK_WARMUP_CALLS = 3  # untimed calls opening each block: the switch's cost, not the server's


def _percentile(samples: list[float], q: float) -> float:
    return nearest_rank(sorted(samples), q)


def _timed_block(call: Callable[[Any], Any], args: Sequence[Any], first: int, count: int) -> list[float]:
    """µs per call of ``call`` on ``args[first:first + count]`` (round-robin), back to back, after
    ``BLOCK_WARMUP_CALLS`` untimed calls on the same rows that bring the caches back."""
    for j in range(BLOCK_WARMUP_CALLS):
        call(args[(first + j) % len(args)])
    out: list[float] = []
    for j in range(count):
        arg = args[(first + j) % len(args)]
        t0 = time.perf_counter()
        call(arg)
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def _alternating_blocks(core: Callable[[Any], Any], raw: Callable[[Any], Any], bodies: Sequence[Any],
                        inputs: Sequence[Any], repeats: int) -> tuple[list[float], list[float]]:
    """(core µs, raw µs), ``repeats`` of each: blocks of ``BLOCK_CALLS`` core calls and of as many raw
    calls alternate, so drift hits both alike while neither is timed straight after the other;
    bodies and the model's inputs go round-robin in step (the i-th of each is the same row)."""
    core_us: list[float] = []
    raw_us: list[float] = []
    while len(core_us) < repeats:
        count = min(BLOCK_CALLS, repeats - len(core_us))
        core_us += _timed_block(core, bodies, len(core_us), count)
        raw_us += _timed_block(raw, inputs, len(raw_us), count)
    return core_us, raw_us


def _measure(model_dir: Path, repeats: int) -> tuple[Predictor, list[bytes], list[float], list[float]]:
    """(predictor, bodies, core µs, raw µs) for the model in ``model_dir`` on its registered rows,
    round-robin: the core on the request bodies, the raw estimator on the same rows as it was
    fitted on them."""
    import skops.io as sio
    from twinserve.backends import model_input
    from twinserve.contract import parse_body
    from twinserve.samples import example_bodies
    from twinserve.trusted_types import TRUSTED_SKOPS_TYPES

    settings = Settings(model_path=model_dir)
    predictor = Predictor(load_model(settings), settings)
    meta = predictor.model.metadata
    estimator = sio.load(model_dir / meta.source.path, trusted=sorted(TRUSTED_SKOPS_TYPES | set(meta.trusted_types)))
    bodies = example_bodies(meta, predictor.model.samples)
    inputs = [model_input(parse_body(b, predictor.spec), meta.schema) for b in bodies]
    for i in range(WARMUP_CALLS):
        predictor.predict_body(bodies[i % len(bodies)])
        estimator.predict(inputs[i % len(inputs)])
    core_us, raw_us = _alternating_blocks(predictor.predict_body, estimator.predict, bodies, inputs, repeats)
    return predictor, bodies, core_us, raw_us


def _how_timed(rows: list[int]) -> str:
    """The footer line every bench-core table ends with: how the figures were taken, and the load."""
    counts = sorted(set(rows))
    return (f"timing: core and raw each in their own warm loop, in alternating blocks of {BLOCK_CALLS} calls "
            f"(the first {BLOCK_WARMUP_CALLS} of each block untimed), after {WARMUP_CALLS} warm-up calls; "
            f"{'/'.join(map(str, counts))} registered rows round-robin; load average {load_average()} (1/5/15 min) "
            "at the end.")


def run_bench_core(models: list[str], repeats: int, work_dir: Path) -> int:
    from twinserve.training import train

    print(f"{'model':<8} {'backend':<12} {'core p50 µs':>12} {'raw p50 µs':>11} {'core/raw':>9} {'core p99 µs':>12} {'n':>5}")
    rows = []
    for kind in models:
        out = work_dir / kind
        train(kind, out)
        predictor, bodies, core_us, raw_us = _measure(out, repeats)
        rows.append(len(bodies))
        core_p50, raw_p50 = statistics.median(core_us), statistics.median(raw_us)
        print(
            f"{kind:<8} {predictor.model.backend.name:<12} {core_p50:>12.1f} {raw_p50:>11.1f} "
            f"{core_p50 / raw_p50:>9.3f} {_percentile(core_us, 99):>12.1f} {repeats:>5}"
        )
    print("measured locally: core = JSON bytes -> validation -> model -> JSON bytes on the model's registered rows; "
          "raw = estimator.predict on the same rows as a ready array only.")
    print(_how_timed(rows))
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

    from twinserve_support.paths import REPO

    print(f"{'model':<22} {'backend':<12} {'core p50 µs':>12} {'raw p50 µs':>11} {'core p99 µs':>12} "
          f"{'cold init ms':>13} {'first ms':>9} {'n':>5}")
    rows = []
    for model_dir in model_dirs:
        predictor, bodies, core_us, raw_us = _measure(model_dir, repeats)
        meta = predictor.model.metadata
        rows.append(len(bodies))
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
    print(_how_timed(rows))
    return 0
