"""`twinbench bench-load`: the model's cold-start cost per artefact format, each in a fresh process."""

from __future__ import annotations

import subprocess
import sys


def test_bench_load_times_each_format_in_its_own_process(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "twinbench", "bench-load", "--models", "logreg", "--repeats", "1",
         "--work-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[1]: line.split() for line in proc.stdout.splitlines() if line.startswith("logreg ")}
    assert set(rows) == {"onnx", "skops", "joblib"}
    # each row loads what it names: the compiled form by default, scikit-learn for both sources
    assert rows["onnx"][2] == "onnxruntime" and rows["skops"][2] == rows["joblib"][2] == "scikit-learn"
    for row in rows.values():
        import_ms, first_ms, reload_ms, total_ms = map(float, row[4:8])
        assert min(import_ms, first_ms, reload_ms) > 0 and total_ms >= import_ms
    assert (tmp_path / "logreg-joblib" / "metadata.json").exists()
