"""The Lambda part: the naive blog template packaged as a Lambda vs twinserve's package, cold init and warm duration on the local emulator."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from twinserve_support.paths import REPO

from twinbench.peers.compare import fmt_cell, median_or_none, ratio
from twinbench.peers.runner import PeersConfig
from twinbench.peers.servers import PeersError, dump_joblib, predicted_label

LAMBDA_TARGETS = {"init_ratio_max": 0.3, "warm_ratio_max": 1.0, "package_mib_max": 120.0}


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build_naive_lambda_package(shipped: Path, work_dir: Path, python: str, lambda_python: Path,
                               note: Callable[[str], None]) -> Path:
    """The blog's handler + numpy/scikit-learn/joblib (python3.12 manylinux_2_28 wheels) + the shipped model as joblib.

    Same library versions as the project venv. Bytecode is compiled with the Lambda Python (as
    ``pip install`` run on python3.12 would), so the naive package, like the shipped one, carries
    its .pyc. Rebuilt when the shipped model changes. Raises :class:`PeersError`.
    """
    from importlib import metadata

    pkg = work_dir / "lambda-naive" / "pkg"
    skops_path = shipped / "model" / "model.skops"
    stamp = pkg / ".built"
    pins = [f"{name}=={metadata.version(name)}" for name in ("numpy", "scikit-learn", "joblib")]
    key = json.dumps({"pins": pins, "model_mtime": skops_path.stat().st_mtime})
    if stamp.exists() and stamp.read_text() == key:
        return pkg
    note(f"building the naive Lambda package in {pkg} ({', '.join(pins)}) ...")
    if pkg.exists():
        shutil.rmtree(pkg)
    pkg.mkdir(parents=True)
    proc = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--target", str(pkg), "--platform", "manylinux_2_28_x86_64",
         "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp", "--no-compile", *pins],
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise PeersError(f"pip install --target for the naive Lambda package failed:\n{proc.stderr[-2000:]}")
    shutil.copy2(REPO / "baselines" / "naive-lambda" / "handler.py", pkg / "handler.py")
    dump_joblib(skops_path, pkg / "model.pkl", python,
                {**os.environ, "PYTHONPATH": str(REPO / "shared")})
    proc = subprocess.run([str(lambda_python), "-m", "compileall", "-q", "-j", "0", str(pkg)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise PeersError(f"compileall of the naive Lambda package failed:\n{proc.stderr[-2000:]}")
    stamp.write_text(key)
    return pkg


def run_lambda_part(cfg: PeersConfig, note: Callable[[str], None]) -> dict[str, object]:
    """Cold init and warm duration of the shipped package vs the naive handler, in the local Lambda.

    Every cold sample is a fresh runtime process (``reap_all`` first) with PYTHONDONTWRITEBYTECODE
    set by the emulator, so nothing is cached from a previous run; the variants are interleaved.
    Returns ``{"status": "skipped", "reason": ...}`` when the package or the emulator is missing.
    """
    shipped = cfg.lambda_package
    if not (shipped / "model" / "model.skops").exists():
        return {"status": "skipped", "reason": f"{shipped} has no model/model.skops (run make package-lambda)"}
    try:
        from twinbench.local_lambda import LambdaSettings, LocalLambda
        from twinbench.local_lambda.settings import DEFAULT_PYTHON
    except ImportError as exc:
        return {"status": "skipped", "reason": f"local Lambda emulator not importable: {exc}"}
    if not DEFAULT_PYTHON.exists():
        return {"status": "skipped", "reason": f"{DEFAULT_PYTHON} missing (the local Lambda's python3.12)"}
    naive_pkg = build_naive_lambda_package(shipped, cfg.work_dir, cfg.python, DEFAULT_PYTHON, note)
    empty_prefix = Path(tempfile.mkdtemp(prefix="twinbench-nopyc-"))
    metadata = json.loads((shipped / "model" / "metadata.json").read_text())
    body = json.dumps({"features": metadata["example_row"]}).encode()
    variants = {
        "twinserve": (shipped, cfg.lambda_handler, {}),
        "naive": (naive_pkg, "handler.lambda_handler", {}),
        # Python looks for .pyc only under an empty prefix: the same package with no bytecode.
        "naive-no-pyc": (naive_pkg, "handler.lambda_handler", {"PYTHONPYCACHEPREFIX": str(empty_prefix)}),
    }
    result: dict[str, object] = {"status": "ok", "handler": cfg.lambda_handler, "variants": {}}
    out: dict[str, dict[str, object]] = result["variants"]  # type: ignore[assignment]
    try:
        with contextlib.ExitStack() as stack:
            fns = {}
            for name, (pkg, handler, env) in variants.items():
                settings = LambdaSettings.from_env(pkg, handler=handler, env=env)
                fns[name] = stack.enter_context(LocalLambda(pkg, settings=settings))
                out[name] = {"package_dir": str(pkg), "handler": handler, "env": env,
                             "memory_mb": settings.memory_mb, "package_bytes": dir_bytes(pkg),
                             "cold": [], "warm_duration_ms": []}
            for i in range(cfg.lambda_cold_samples):
                for name, fn in fns.items():
                    fn.reap_all()
                    t0 = time.perf_counter()
                    status, payload = _post(fn.url + "/predict", body, timeout_s=60)
                    client_ms = (time.perf_counter() - t0) * 1000.0
                    report = fn.last_report
                    sample = {"status": status, "client_first_answer_ms": round(client_ms, 1),
                              "init_duration_ms": report.init_duration_ms if report else None,
                              "duration_ms": report.duration_ms if report else None,
                              "answer": payload[:2000].decode(errors="replace")}
                    out[name]["cold"].append(sample)  # type: ignore[union-attr]
                    note(f"  lambda cold {i + 1}/{cfg.lambda_cold_samples} {name:<13} init "
                         f"{fmt_cell(sample['init_duration_ms'])} ms, first answer {client_ms:.0f} ms, status {status}")
            for _ in range(cfg.lambda_warm_samples):
                for name, fn in fns.items():
                    _post(fn.url + "/predict", body, timeout_s=30)
                    if (report := fn.last_report) is not None:
                        out[name]["warm_duration_ms"].append(report.duration_ms)
    finally:
        shutil.rmtree(empty_prefix, ignore_errors=True)
    for data in out.values():
        cold = [s for s in data["cold"] if s["status"] == 200]  # type: ignore[union-attr]
        data["cold_ok"] = len(cold)
        data["init_duration_ms_median"] = median_or_none([s["init_duration_ms"] for s in cold])
        data["first_answer_ms_median"] = median_or_none(
            [(s["init_duration_ms"] or 0) + (s["duration_ms"] or 0) for s in cold if s["init_duration_ms"] is not None])
        data["client_first_answer_ms_median"] = median_or_none([s["client_first_answer_ms"] for s in cold])
        data["warm_duration_ms_median"] = median_or_none(data["warm_duration_ms"])  # type: ignore[arg-type]
    for data in out.values():
        with contextlib.suppress(ValueError, IndexError, KeyError, TypeError):
            data["predicted_label"] = predicted_label("", json.loads(data["cold"][0]["answer"]))  # type: ignore[index]
    result["labels_agree"] = len({json.dumps(d.get("predicted_label")) for d in out.values()}) == 1
    twin, naive = out["twinserve"], out["naive"]
    result["targets"] = [
        _lambda_target("cold first answer (init + first duration) twinserve/naive <= 0.3x",
                       ratio(twin["first_answer_ms_median"], naive["first_answer_ms_median"]),  # type: ignore[arg-type]
                       "<=", LAMBDA_TARGETS["init_ratio_max"]),
        _lambda_target("warm duration twinserve/naive <= 1x",
                       ratio(twin["warm_duration_ms_median"], naive["warm_duration_ms_median"]),  # type: ignore[arg-type]
                       "<=", LAMBDA_TARGETS["warm_ratio_max"]),
        _lambda_target("unzipped package <= 120 MiB", round(int(twin["package_bytes"]) / 2**20, 1),  # type: ignore[arg-type]
                       "<=", LAMBDA_TARGETS["package_mib_max"]),
    ]
    result["info"] = {"cold first answer twinserve/naive-no-pyc": ratio(
        twin["first_answer_ms_median"], out["naive-no-pyc"]["first_answer_ms_median"])}  # type: ignore[arg-type]
    return result


def _lambda_target(text: str, value: float | None, op: str, limit: float) -> dict[str, object]:
    if value is None:
        verdict = "MISSING"
    else:
        verdict = "PASS" if (value <= limit if op == "<=" else value >= limit) else "FAIL"
    return {"target": text, "value": value, "op": op, "limit": limit, "verdict": verdict}


def _post(url: str, body: bytes, timeout_s: float) -> tuple[int, bytes]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    try:
        conn.request("POST", parts.path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError as exc:
        return 0, str(exc).encode()
    finally:
        conn.close()


def render_lambda(result: dict[str, object]) -> str:
    if result.get("status") != "ok":
        return f"== Lambda: skipped ({result.get('reason')}) =="
    lines = ["== Lambda (local emulator, python3.12 runtime, fresh process per cold sample, no .pyc written) ==",
             f"{'variant':<14} {'package MiB':>11} {'init ms':>9} {'first answer ms':>16} {'warm duration ms':>17}"]
    for name, d in result["variants"].items():  # type: ignore[union-attr]
        lines.append(f"{name:<14} {int(d['package_bytes']) / 2**20:>11.1f} {fmt_cell(d['init_duration_ms_median']):>9}"
                     f" {fmt_cell(d['first_answer_ms_median']):>16} {fmt_cell(d['warm_duration_ms_median'], 3):>17}")
    if not result.get("labels_agree"):
        labels = {n: d.get("predicted_label") for n, d in result["variants"].items()}  # type: ignore[union-attr]
        lines.append(f"  WARNING: the variants disagree on the example row's class {labels}: "
                     "is the shipped handler the real one?")
    for t in result["targets"]:  # type: ignore[union-attr]
        lines.append(f"  [{t['verdict']}] lambda: {t['target']}  (measured {fmt_cell(t['value'], 3)})")
    for key, value in (result.get("info") or {}).items():  # type: ignore[union-attr]
        lines.append(f"  (info) {key}: {fmt_cell(value, 3)}x")
    return "\n".join(lines)
