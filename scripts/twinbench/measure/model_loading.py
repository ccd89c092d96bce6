"""``make bench-load``: what loading the model costs a cold start, per artefact format.

What does the safe format (skops) cost against joblib at start-up? A cold start has
nothing imported, so every figure comes from a fresh Python process, which measures:

- ``import``: the core plus the library the artefact needs (ONNX Runtime, skops, joblib);
- ``first load``: :func:`~twinserve.model_store.load_model` — read, SHA-256, deserialise, build
  the backend — including the scikit-learn modules the deserialiser imports on the way;
- ``reload``: the same call again in that process: the format's own cost, imports already paid.

Medians over ``repeats`` processes per row; the runs of the formats are interleaved so machine
drift hits them alike.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

# Runs in the child: the figures of one cold start, as a JSON line.
_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
from twinserve.model_store import load_model
from twinserve.settings import Settings
fmt = sys.argv[1]
if fmt == "onnx":
    import onnxruntime  # noqa: F401
elif fmt == "skops":
    import skops.io  # noqa: F401
else:
    import joblib  # noqa: F401
t1 = time.perf_counter()
settings = Settings.from_env()
first = load_model(settings)
t2 = time.perf_counter()
again = load_model(settings)
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_load_ms": (t2 - t1) * 1e3, "reload_ms": (t3 - t2) * 1e3,
                  "backend": first.backend.name, "artefact": first.artefact.path}))
"""

# artefact label -> (source format the model is registered with, extra environment)
_VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "onnx": ("skops", {"SERVING_BACKEND": "auto"}),
    "skops": ("skops", {"SERVING_BACKEND": "sklearn"}),
    "joblib": ("joblib", {"SERVING_BACKEND": "sklearn", "MODEL_FORMAT": "joblib"}),
}


def _probe(model_dir: Path, label: str) -> dict:
    _, extra = _VARIANTS[label]
    env = {**os.environ, "MODEL_PATH": str(model_dir), **extra}
    done = subprocess.run([sys.executable, "-c", _PROBE, label], env=env, capture_output=True, text=True,
                          check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"load probe ({label}) failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_bench_load(models: list[str], repeats: int, work_dir: Path) -> int:
    from twinserve.training import train

    print(f"{'model':<7} {'artefact':<8} {'backend':<13} {'size KiB':>9} {'import ms':>10} {'first load ms':>14} "
          f"{'reload ms':>10} {'cold total ms':>14} {'n':>3}")
    for kind in models:
        dirs = {}
        for source_format in ("skops", "joblib"):
            out = work_dir / f"{kind}-{source_format}"
            train(kind, out, source_format=source_format)
            dirs[source_format] = out
        runs: dict[str, list[dict]] = {label: [] for label in _VARIANTS}
        for _ in range(repeats):
            for label, (source_format, _) in _VARIANTS.items():
                runs[label].append(_probe(dirs[source_format], label))
        for label, samples in runs.items():
            artefact = dirs[_VARIANTS[label][0]] / samples[0]["artefact"]
            med = {key: statistics.median(s[key] for s in samples) for key in ("import_ms", "first_load_ms", "reload_ms")}
            total = statistics.median(s["import_ms"] + s["first_load_ms"] for s in samples)
            print(f"{kind:<7} {label:<8} {samples[0]['backend']:<13} {artefact.stat().st_size / 1024:>9.0f} "
                  f"{med['import_ms']:>10.1f} {med['first_load_ms']:>14.1f} {med['reload_ms']:>10.1f} "
                  f"{total:>14.1f} {len(samples):>3}")
    print("import: the core + the format's library; first load: read, SHA-256, deserialise (with the scikit-learn "
          "modules it imports), build the backend; reload: the same again, imports paid. Medians of fresh processes.")
    return 0
