"""``bench-peers``: twinserve against what a user would otherwise write or install.

Servers, all on 127.0.0.1, all loading the *same* fitted estimator (the twinserve model's
``model.skops``; the peers get a joblib dump of it):

* ``twinserve``       the container app exactly as ``make serve-container`` runs it
                      (gunicorn.conf.py: buffered sync workers, two per CPU, ONNX Runtime, /predict fast path);
* ``naive``           the blog's Flask template (``baselines/naive-container/app.py``) under
                      gunicorn with 2 sync workers -- the labelled baseline;
* ``mlserver``        MLServer 1.7.1 + mlserver-sklearn, adaptive batching off (its default);
* ``mlserver-batch``  the same with adaptive batching on (max 32 rows, 5 ms).

Load, per round and server (rounds interleave servers: A, B, C, D, A, B, C, D, ...):
wrk at fixed concurrency 1, 8, 32 for a bounded duration each (a Lua script sends the POST body
and prints wrk's own summary as one JSON line), then a bounded open-loop rate sweep with
:class:`twinbench.measure.loadgen.LoadGenerator` (latency from the intended send time; the sweep stops at
the first saturated step). Between servers the bench waits until the last server's processes are
idle, so a backlog left by an overloaded server does not eat the next one's CPU.

Reported per model: medians over rounds of throughput (rps), p50 and p99 at each concurrency,
ratios against twinserve at c=32 and each issue-7 target marked PASS/FAIL. Everything lands in
``results/peers-<timestamp>/results.json`` (raw per-round numbers included).

Nothing here imports scikit-learn: model preparation runs in a subprocess of the project venv.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from twinserve_support.process.managed import ManagedProcess, ManagedServer, ProcessNotReady, http_probe
from twinserve_support.process.net import free_port

from twinbench.measure.wrk import run_wrk, wrk_lua_script, wrk_version
from twinbench.results.envinfo import load_average

__all__ = [
    "CONCURRENCIES",
    "TARGETS",
    "PeerStartError",
    "PeersError",
    "ServerSpec",
    "RatioTarget",
    "evaluate_targets",
    "median_summary",
    "render_table",
]

from twinserve_support.paths import REPO  # noqa: E402

CONCURRENCIES: tuple[int, ...] = (1, 8, 32)
TARGET_CONCURRENCY = 32
MODEL_KINDS = ("rf", "logreg")
# The sweep's step counts as sustained when p99 stays under this and >= 90 % of the rate arrived.
SWEEP_SLO_MS = 100.0
QUIET_CPU_FRACTION = 0.05  # a server group using less than this share of one core is idle
UNSTABLE_SPREAD = 0.20  # (max - min) / median across rounds above this: flagged unstable


class PeersError(RuntimeError):
    """A server did not start, wrk is missing or failed, a model could not be prepared."""


# ----------------------------------------------------------------------------------- servers


@dataclass
class ServerSpec:
    """How to start one server and talk to it. ``body`` is the POST body for one row."""

    name: str
    label: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    port: int
    predict_path: str
    ready_path: str | None  # GET path answering 200 when ready; None: a 200 prediction means ready
    body: bytes
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class PeerStartError(PeersError, ProcessNotReady):
    """A peer server exited or did not become ready in time; the message ends with its log tail."""


class ServerProcess(ManagedServer):
    """A server in its own process group; ``with ServerProcess(spec, log) as s:`` waits until ready."""

    def __init__(self, spec: ServerSpec, log_path: Path, ready_timeout_s: float = 120.0) -> None:
        self.spec = spec
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        if spec.ready_path is not None:
            ready = http_probe(spec.port, spec.ready_path, timeout_s=2.0)
        else:  # a 200 prediction means ready
            ready = http_probe(spec.port, spec.predict_path, method="POST", body=spec.body, timeout_s=2.0)
        self.process = ManagedProcess(spec.argv, name=spec.name, env=spec.env, cwd=spec.cwd, log_path=log_path,
                                      ready=ready, ready_timeout_s=ready_timeout_s, grace_s=10.0,
                                      error=PeerStartError, log_lines=20)

    @property
    def ready_ms(self) -> float | None:
        return self.process.ready_ms

    @property
    def pgid(self) -> int:
        assert self.process.pgid is not None
        return self.process.pgid

    def cpu_s(self) -> float:
        """user+sys CPU seconds of the server's live processes (threads included)."""
        return self.process.cpu_seconds()

    def start(self) -> None:
        self.process.start()
        self.process.wait_ready()

    def stop(self, graceful_s: float = 10.0) -> None:
        self.process.stop(grace_s=graceful_s)

    def wait_quiet(self, max_wait_s: float = 60.0, window_s: float = 0.5) -> float:
        """Wait until the group uses < ``QUIET_CPU_FRACTION`` of a core; returns seconds waited."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < max_wait_s:
            c0 = self.cpu_s()
            time.sleep(window_s)
            if (self.cpu_s() - c0) / window_s < QUIET_CPU_FRACTION:
                break
        return time.perf_counter() - t0


def probe(spec: ServerSpec) -> dict[str, object]:
    """One prediction over HTTP/1.1: status, answer and whether the server keeps the connection open.

    ``keep_alive`` is False when the server answered ``Connection: close`` (gunicorn sync workers
    do after every response) or spoke HTTP/1.0.
    """
    conn = http.client.HTTPConnection("127.0.0.1", spec.port, timeout=10)
    try:
        conn.request("POST", spec.predict_path, body=spec.body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        payload = resp.read()
        return {
            "status": resp.status,
            "keep_alive": not resp.will_close,
            "connection_header": resp.getheader("Connection"),
            "server_header": resp.getheader("Server"),
            "answer": json.loads(payload) if payload else None,
        }
    finally:
        conn.close()


def predicted_label(name: str, answer: object) -> object:
    """The predicted class out of each server's answer shape (twinserve, naive, MLServer V2)."""
    if not isinstance(answer, dict):
        return None
    if "outputs" in answer:  # V2 inference protocol
        return answer["outputs"][0]["data"][0]
    for key in ("predictions", "prediction"):
        if key in answer:
            value = answer[key]
            while isinstance(value, list) and value:
                value = value[0]
            if isinstance(value, dict):
                value = value.get("label", value.get("class"))
            return value
    return None


# ----------------------------------------------------------------------------- model files


@dataclass(frozen=True)
class ModelFiles:
    kind: str
    model_dir: Path  # twinserve model directory (model.skops + model.onnx + metadata.json)
    joblib_path: Path
    example_row: list[float]
    n_features: int


def prepare_model(kind: str, work_dir: Path, python: str, log: Callable[[str], None]) -> ModelFiles:
    """Train the default ``kind`` model into ``work_dir/kind`` (if absent) and dump its joblib copy.

    The joblib copy is the *same* fitted estimator, read from ``model.skops`` with the reviewed
    trusted-type list, so every server answers from one model. Raises :class:`PeersError`.
    """
    model_dir = work_dir / kind
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "shared"), os.environ.get("PYTHONPATH", "")])}
    if not (model_dir / "metadata.json").exists():
        log(f"training {kind} into {model_dir}")
        proc = subprocess.run([python, "-m", "twinserve.cli", "train", "--model", kind, "--out", str(model_dir)],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise PeersError(f"training {kind} failed:\n{proc.stderr[-2000:]}")
    joblib_path = model_dir / "model.joblib"
    skops_path = model_dir / "model.skops"
    if not joblib_path.exists() or joblib_path.stat().st_mtime < skops_path.stat().st_mtime:
        dump_joblib(skops_path, joblib_path, python, env)
    metadata = json.loads((model_dir / "metadata.json").read_text())
    return ModelFiles(kind=kind, model_dir=model_dir, joblib_path=joblib_path,
                      example_row=[float(v) for v in metadata["example_row"]],
                      n_features=int(metadata["n_features"]))


DUMP_JOBLIB = (
    "import sys, joblib, skops.io\n"
    "from twinserve.trusted_types import TRUSTED_SKOPS_TYPES\n"
    "est = skops.io.load(sys.argv[1], trusted=sorted(TRUSTED_SKOPS_TYPES))\n"
    "joblib.dump(est, sys.argv[2])\n"
)


def dump_joblib(skops_path: Path, joblib_path: Path, python: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run([python, "-c", DUMP_JOBLIB, str(skops_path), str(joblib_path)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PeersError(f"joblib dump of {skops_path} failed:\n{proc.stderr[-2000:]}")


# ------------------------------------------------------------------------------ server specs

SERVER_ORDER = ("twinserve", "naive", "mlserver", "mlserver-batch")
SERVER_LABELS = {
    "twinserve": "twinserve container (gunicorn buffered sync workers, ONNX Runtime)",
    "naive": "naive blog template (Flask + joblib, gunicorn 2 sync) [BASELINE]",
    "mlserver": "MLServer 1.7.1 sklearn, adaptive batching off",
    "mlserver-batch": "MLServer 1.7.1 sklearn, adaptive batching on (32 rows / 5 ms)",
}
MLSERVER_BATCH = {"mlserver": (1, 0.0), "mlserver-batch": (32, 0.005)}


def _fill(template: object, values: dict[str, object]) -> object:
    """Replace every ``"{name}"`` string in a JSON template with ``values[name]`` (typed)."""
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        return values[template[1:-1]]
    return template


def render_mlserver(folder: Path, model_name: str, model_uri: Path, batch: tuple[int, float]) -> dict[str, object]:
    """Write settings.json + model-settings.json from ``baselines/mlserver``; returns the ports and settings."""
    folder.mkdir(parents=True, exist_ok=True)
    templates = REPO / "baselines" / "mlserver"
    values: dict[str, object] = {
        "http_port": free_port(), "grpc_port": free_port(), "metrics_port": free_port(),
        "model_name": model_name, "model_uri": str(model_uri.resolve()),
        "max_batch_size": batch[0], "max_batch_time_s": batch[1],
    }
    settings = _fill(json.loads((templates / "settings.json").read_text()), values)
    model_settings = _fill(json.loads((templates / "model-settings.json").read_text()), values)
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    (folder / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    return {"settings": settings, "model_settings": model_settings, "http_port": values["http_port"]}


def build_specs(model: ModelFiles, work_dir: Path, servers: Sequence[str], venv_bin: Path,
                mlserver_bin: Path) -> list[ServerSpec]:
    """One :class:`ServerSpec` per requested server for ``model`` (ports picked now)."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "WEB_CONCURRENCY"))}
    twin_body = json.dumps({"features": model.example_row}).encode()
    specs: list[ServerSpec] = []
    for name in servers:
        port = free_port()
        if name == "twinserve":
            app_dir = REPO / "services" / "predict-container"
            env = {**base_env, "MODEL_PATH": str(model.model_dir.resolve()), "PORT": str(port),
                   "HOST": "127.0.0.1", "GUNICORN_ACCESS_LOG": "",
                   "PYTHONPATH": os.pathsep.join([str(REPO / "shared"), str(app_dir)]),
                   "GUNICORN_CMD_ARGS": f"--control-socket {tempfile.gettempdir()}/twinbench-peers-{port}.ctl"}
            specs.append(ServerSpec(name, SERVER_LABELS[name],
                                    [str(venv_bin / "gunicorn"), "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
                                    app_dir, env, port, "/predict", "/ready", twin_body,
                                    {"config": "services/predict-container/gunicorn.conf.py (as make serve-container)"}))
        elif name == "naive":
            app_dir = REPO / "baselines" / "naive-container"
            env = {**base_env, "MODEL_FILE": str(model.joblib_path.resolve()), "PYTHONPATH": str(app_dir),
                   "GUNICORN_CMD_ARGS": f"--control-socket {tempfile.gettempdir()}/twinbench-peers-{port}.ctl"}
            # The naive app has no readiness route: it is ready when it answers a prediction.
            specs.append(ServerSpec(name, SERVER_LABELS[name],
                                    [str(venv_bin / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"],
                                    app_dir, env, port, "/predict", None, twin_body,
                                    {"workers": 2, "worker_class": "sync"}))
        elif name in MLSERVER_BATCH:
            folder = work_dir / f"mlserver-{model.kind}-{name}"
            rendered = render_mlserver(folder, model.kind, model.joblib_path, MLSERVER_BATCH[name])
            port = int(rendered["http_port"])  # type: ignore[arg-type]
            body = json.dumps({"inputs": [{"name": "predict", "shape": [1, model.n_features],
                                           "datatype": "FP64", "data": model.example_row}]}).encode()
            env = {**base_env, "PYTHONPATH": ""}
            specs.append(ServerSpec(name, SERVER_LABELS[name], [str(mlserver_bin), "start", str(folder)],
                                    folder, env, port, f"/v2/models/{model.kind}/infer",
                                    f"/v2/models/{model.kind}/ready", body,
                                    {"settings": rendered["settings"], "model_settings": rendered["model_settings"]}))
        else:
            raise ValueError(f"unknown server {name!r} (choose from {', '.join(SERVER_ORDER)})")
    return specs


# ------------------------------------------------------------------------------ statistics


def _median(values: Sequence[float | None]) -> float | None:
    clean = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return round(statistics.median(clean), 3) if clean else None


def _spread(values: Sequence[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    if len(clean) < 2:
        return None
    med = statistics.median(clean)
    return round((max(clean) - min(clean)) / med, 3) if med else None


def median_summary(rounds: Sequence[dict[str, object]]) -> dict[str, object]:
    """Medians over rounds of one server's wrk steps at one concurrency: rps, p50, p99 (+ spread)."""
    keys = ("rps", "p50_ms", "p99_ms")
    out: dict[str, object] = {"n_rounds": len(rounds)}
    for key in keys:
        values = [r.get(key) for r in rounds]  # type: ignore[misc]
        out[key] = _median(values)  # type: ignore[arg-type]
        out[f"{key}_spread"] = _spread(values)  # type: ignore[arg-type]
    out["errors"] = sum(sum((r.get("errors") or {}).values()) for r in rounds)  # type: ignore[union-attr]
    out["unstable"] = any((out[f"{k}_spread"] or 0) > UNSTABLE_SPREAD for k in ("rps", "p99_ms"))
    return out


@dataclass(frozen=True)
class RatioTarget:
    """``twinserve metric / peer metric`` compared with ``limit`` (``>=`` for rps, ``<=`` for p99)."""

    model: str
    peer: str
    metric: str  # "rps" or "p99_ms", at TARGET_CONCURRENCY
    op: str  # ">=" or "<="
    limit: float

    @property
    def text(self) -> str:
        what = "throughput" if self.metric == "rps" else "p99"
        return f"{what} c={TARGET_CONCURRENCY} twinserve/{self.peer} {self.op} {self.limit:g}x"


TARGETS: tuple[RatioTarget, ...] = (
    RatioTarget("rf", "naive", "rps", ">=", 3.0),
    RatioTarget("rf", "mlserver-batch", "rps", ">=", 3.0),
    RatioTarget("rf", "naive", "p99_ms", "<=", 0.5),
    RatioTarget("logreg", "naive", "rps", ">=", 1.5),
    RatioTarget("logreg", "naive", "p99_ms", "<=", 0.5),
)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return round(ours / theirs, 3)


def evaluate_targets(model: str, summary: dict[str, dict[int, dict[str, object]]],
                     targets: Sequence[RatioTarget] = TARGETS) -> list[dict[str, object]]:
    """PASS/FAIL of each target for ``model``; ``summary[server][concurrency]`` from :func:`median_summary`.

    A target whose peer was not measured (or whose number is missing) is ``MISSING``, never PASS.
    """
    out = []
    for target in targets:
        if target.model != model:
            continue
        ours = summary.get("twinserve", {}).get(TARGET_CONCURRENCY, {}).get(target.metric)
        theirs = summary.get(target.peer, {}).get(TARGET_CONCURRENCY, {}).get(target.metric)
        value = ratio(ours, theirs)  # type: ignore[arg-type]
        if value is None:
            verdict = "MISSING"
        elif target.op == ">=":
            verdict = "PASS" if value >= target.limit else "FAIL"
        else:
            verdict = "PASS" if value <= target.limit else "FAIL"
        out.append({"target": target.text, "model": model, "peer": target.peer, "metric": target.metric,
                    "op": target.op, "limit": target.limit, "twinserve": ours, "peer_value": theirs,
                    "ratio": value, "verdict": verdict})
    return out


# -------------------------------------------------------------------------------- rendering


def _fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_table(model: str, summary: dict[str, dict[int, dict[str, object]]], servers: Sequence[str],
                 keep_alive: dict[str, object], verdicts: Sequence[dict[str, object]]) -> str:
    """The printed table for one model: per server rps / p50 / p99 at each concurrency, ratios, targets."""
    lines = [f"== {model}: medians of rounds (rps = 2xx answers/s; latency ms) =="]
    head = f"{'server':<15} {'keep-alive':<10}"
    for c in CONCURRENCIES:
        head += f" | c={c:<2} {'rps':>7} {'p50':>7} {'p99':>8}"
    head += " | rps vs twin | p99 vs twin"
    lines.append(head)
    lines.append("-" * len(head))
    twin = summary.get("twinserve", {}).get(TARGET_CONCURRENCY, {})
    for name in servers:
        row = summary.get(name, {})
        ka = keep_alive.get(name)
        line = f"{name:<15} {('yes' if ka else 'no' if ka is not None else '?'):<10}"
        unstable = False
        for c in CONCURRENCIES:
            cell = row.get(c, {})
            unstable = unstable or bool(cell.get("unstable"))
            line += (f" | {'':5}{_fmt(cell.get('rps')):>7} {_fmt(cell.get('p50_ms'), 2):>7}"
                     f" {_fmt(cell.get('p99_ms'), 2):>8}")
        peer = row.get(TARGET_CONCURRENCY, {})
        if name == "twinserve":
            line += f" | {'1':>11} | {'1':>11}"
        else:
            r_rps = ratio(twin.get("rps"), peer.get("rps"))  # type: ignore[arg-type]
            r_p99 = ratio(twin.get("p99_ms"), peer.get("p99_ms"))  # type: ignore[arg-type]
            line += f" | {_fmt(r_rps, 2) + 'x':>11} | {_fmt(r_p99, 3) + 'x':>11}"
        if unstable:
            line += "  (unstable: rounds differ > 20 %)"
        lines.append(line)
    lines.append(f"ratios at c={TARGET_CONCURRENCY}: 'rps vs twin' = twinserve rps / server rps (higher is "
                 "better for twinserve); 'p99 vs twin' = twinserve p99 / server p99 (lower is better)")
    for v in verdicts:
        lines.append(f"  [{v['verdict']}] {model}: {v['target']}  (measured {_fmt(v['ratio'], 3)}x: "
                     f"{_fmt(v['twinserve'], 2)} vs {_fmt(v['peer_value'], 2)})")
    return "\n".join(lines)


def render_sweep(model: str, sweeps: dict[str, list[dict[str, object]]]) -> str:
    """One line per server: the open-loop knee (highest sustained rate with p99 <= SWEEP_SLO_MS)."""
    lines = [f"-- {model}: open-loop sweep (aiohttp, latency from intended send; knee = highest rate with "
             f"p99 <= {SWEEP_SLO_MS:g} ms, errors <= 1 %, >= 90 % delivered; median over rounds) --"]
    for name, rounds in sweeps.items():
        knees = [r.get("knee_rps") for r in rounds]
        steps = rounds[-1].get("steps", []) if rounds else []
        detail = ", ".join(f"{s['offered_rps']:g}->{_fmt(s['achieved_rps'])} rps p99 {_fmt(s['p99_ms'])} ms"
                           f"{' [gen-bound]' if s.get('generator_bottleneck') else ''}"
                           for s in steps)  # type: ignore[index,union-attr]
        lines.append(f"{name:<15} knee {_fmt(_median(knees), 0) if any(k is not None for k in knees) else '<lowest'}"
                     f" rps   (last round: {detail})")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ the run


@dataclass
class PeersConfig:
    """One ``bench-peers`` run. Durations in seconds, rates in requests per second."""

    models: tuple[str, ...] = MODEL_KINDS
    servers: tuple[str, ...] = SERVER_ORDER
    rounds: int = 3
    duration_s: float = 10.0
    warmup_s: float = 2.0
    concurrencies: tuple[int, ...] = CONCURRENCIES
    sweep_rates: tuple[float, ...] = (100.0, 300.0, 900.0)
    sweep_step_s: float = 3.0
    sweep_timeout_s: float = 5.0
    work_dir: Path = REPO / "build" / "peers"
    results_dir: Path = REPO / "results"
    wrk: str = "wrk"
    python: str = sys.executable
    mlserver_bin: Path = REPO / ".venv-mlserver" / "bin" / "mlserver"
    run_lambda: bool = False
    lambda_package: Path = REPO / "build" / "lambda" / "pkg"
    lambda_handler: str = "handler.handler"
    lambda_cold_samples: int = 5
    lambda_warm_samples: int = 30

    @property
    def venv_bin(self) -> Path:
        return Path(self.python).parent


def run_sweep(spec: ServerSpec, rates: Sequence[float], step_s: float, timeout_s: float) -> dict[str, object]:
    """Open-loop steps at increasing rates; stops after the first step that is not sustained."""
    import asyncio

    from twinbench.measure.loadgen import LoadGenerator, step_result
    from twinbench.measure.stats import Step, find_knee

    async def one_step(rate: float) -> dict[str, object]:
        async with LoadGenerator(spec.base_url, spec.body, path=spec.predict_path, timeout_s=timeout_s) as gen:
            outcomes, generator = await gen.open_loop(rate, step_s)
        return step_result(outcomes, generator, offered_rps=rate, duration_s=step_s)

    steps: list[dict[str, object]] = []
    knee_steps: list[Step] = []
    for rate in sorted(rates):
        raw = asyncio.run(one_step(rate))
        latency = raw["latency"]  # type: ignore[index]
        step = {
            "offered_rps": rate,
            "achieved_rps": raw["achieved_rps"],
            "sent": raw["sent"], "ok": raw["ok"], "errors": raw["errors"], "timeouts": raw["timeouts"],
            "error_rate": raw["error_rate"],
            "p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"],  # type: ignore[index]
            "latency": latency,
            "generator": raw["generator"],
            "generator_bottleneck": raw["generator"]["bottleneck"],  # type: ignore[index]
            "samples_ms": raw["samples_ms"],
        }
        steps.append(step)
        knee_steps.append(Step(rate, float(raw["achieved_rps"]), latency["p99_ms"],  # type: ignore[arg-type,index]
                               float(raw["error_rate"])))  # type: ignore[arg-type]
        if find_knee(knee_steps[-1:], SWEEP_SLO_MS) is None:
            break  # saturated: higher rates would only build a backlog
    return {"slo_ms": SWEEP_SLO_MS, "knee_rps": find_knee(knee_steps, SWEEP_SLO_MS), "steps": steps}


def run_model(model: ModelFiles, cfg: PeersConfig, note: Callable[[str], None], logs_dir: Path) -> dict[str, object]:
    """Start every server for ``model``, run the interleaved rounds, return the model's result record."""
    specs = build_specs(model, cfg.work_dir, cfg.servers, cfg.venv_bin, cfg.mlserver_bin)
    script = cfg.work_dir / f"wrk-{model.kind}"
    script.mkdir(parents=True, exist_ok=True)
    scripts = {}
    for spec in specs:
        path = script / f"{spec.name}.lua"
        path.write_text(wrk_lua_script(spec.body))
        scripts[spec.name] = path
    record: dict[str, object] = {"model": model.kind, "model_dir": str(model.model_dir),
                                 "model_joblib": str(model.joblib_path), "servers": {}}
    servers: dict[str, dict[str, object]] = record["servers"]  # type: ignore[assignment]
    with contextlib.ExitStack() as stack:
        procs: dict[str, ServerProcess] = {}
        for spec in specs:
            note(f"{model.kind}: starting {spec.name} ...")
            proc = stack.enter_context(ServerProcess(spec, logs_dir / f"{model.kind}-{spec.name}.log"))
            procs[spec.name] = proc
            answer = probe(spec)
            servers[spec.name] = {
                "label": spec.label, "argv": spec.argv, "settings": spec.settings,
                "predict_url": spec.base_url + spec.predict_path, "request_body": spec.body.decode(),
                "ready_ms": round(proc.ready_ms or 0.0, 1), "keep_alive": answer["keep_alive"],
                "connection_header": answer["connection_header"], "probe_status": answer["status"],
                "predicted_label": predicted_label(spec.name, answer["answer"]),
                "warmup": None, "rounds": [], "sweeps": [],
            }
        labels = {name: s["predicted_label"] for name, s in servers.items()}
        record["labels_agree"] = len({json.dumps(v) for v in labels.values()}) == 1
        if not record["labels_agree"]:
            note(f"WARNING {model.kind}: servers disagree on the example row's class: {labels}")
        for spec in specs:  # warm-up, discarded from the statistics
            servers[spec.name]["warmup"] = run_wrk(cfg.wrk, spec.base_url + spec.predict_path,
                                                   scripts[spec.name], 8, cfg.warmup_s)
            procs[spec.name].wait_quiet()
        for r in range(cfg.rounds):
            load = load_average()
            note(f"{model.kind}: round {r + 1}/{cfg.rounds} (load average {load})")
            for spec in specs:
                proc = procs[spec.name]
                steps = []
                for c in cfg.concurrencies:
                    cpu0 = proc.cpu_s()
                    step = run_wrk(cfg.wrk, spec.base_url + spec.predict_path, scripts[spec.name], c, cfg.duration_s)
                    step["server_cpu_cores"] = round((proc.cpu_s() - cpu0) / max(step["duration_s"], 1e-9), 2)  # type: ignore[arg-type]
                    step["load_average"] = load_average()
                    steps.append(step)
                    note(f"  {spec.name:<15} c={c:<3} {step['rps']:>8.1f} rps  p50 {step['p50_ms']:>8.2f} ms"
                         f"  p99 {step['p99_ms']:>8.2f} ms  errors {sum(step['errors'].values())}"  # type: ignore[union-attr]
                         f"  wrk cpu {step['wrk_cpu_fraction']}  server cpu {step['server_cpu_cores']}")
                servers[spec.name]["rounds"].append({"round": r + 1, "load_average_before": load, "steps": steps})  # type: ignore[union-attr]
                proc.wait_quiet()
                if cfg.sweep_rates:
                    sweep = run_sweep(spec, cfg.sweep_rates, cfg.sweep_step_s, cfg.sweep_timeout_s)
                    servers[spec.name]["sweeps"].append(sweep)  # type: ignore[union-attr]
                    waited = proc.wait_quiet()
                    note(f"  {spec.name:<15} sweep knee {sweep['knee_rps']} rps (quiet after {waited:.1f} s)")
    summary: dict[str, dict[int, dict[str, object]]] = {}
    for name, data in servers.items():
        summary[name] = {}
        for c in cfg.concurrencies:
            per_round = [next(s for s in rnd["steps"] if s["concurrency"] == c) for rnd in data["rounds"]]  # type: ignore[index,union-attr]
            summary[name][c] = median_summary(per_round)
    record["summary"] = {name: {str(c): v for c, v in cells.items()} for name, cells in summary.items()}
    record["targets"] = evaluate_targets(model.kind, summary)
    record["_summary_int"] = summary  # dropped before writing
    return record


# ----------------------------------------------------------------------------- Lambda part


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
                         f"{_fmt(sample['init_duration_ms'])} ms, first answer {client_ms:.0f} ms, status {status}")
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
        data["init_duration_ms_median"] = _median([s["init_duration_ms"] for s in cold])
        data["first_answer_ms_median"] = _median(
            [(s["init_duration_ms"] or 0) + (s["duration_ms"] or 0) for s in cold if s["init_duration_ms"] is not None])
        data["client_first_answer_ms_median"] = _median([s["client_first_answer_ms"] for s in cold])
        data["warm_duration_ms_median"] = _median(data["warm_duration_ms"])  # type: ignore[arg-type]
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
        lines.append(f"{name:<14} {int(d['package_bytes']) / 2**20:>11.1f} {_fmt(d['init_duration_ms_median']):>9}"
                     f" {_fmt(d['first_answer_ms_median']):>16} {_fmt(d['warm_duration_ms_median'], 3):>17}")
    if not result.get("labels_agree"):
        labels = {n: d.get("predicted_label") for n, d in result["variants"].items()}  # type: ignore[union-attr]
        lines.append(f"  WARNING: the variants disagree on the example row's class {labels}: "
                     "is the shipped handler the real one?")
    for t in result["targets"]:  # type: ignore[union-attr]
        lines.append(f"  [{t['verdict']}] lambda: {t['target']}  (measured {_fmt(t['value'], 3)})")
    for key, value in (result.get("info") or {}).items():  # type: ignore[union-attr]
        lines.append(f"  (info) {key}: {_fmt(value, 3)}x")
    return "\n".join(lines)


def environment(cfg: PeersConfig) -> dict[str, object]:
    from twinbench.results import envinfo

    env = envinfo.collect()
    env["wrk_version"] = wrk_version(cfg.wrk)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([str(cfg.mlserver_bin.parent / "python"), "-c",
                              "from importlib.metadata import version as v; import json; print(json.dumps("
                              "{n: v(n) for n in ('mlserver', 'mlserver-sklearn', 'uvloop', 'scikit-learn')}))"],
                             capture_output=True, text=True, timeout=30)
        env["mlserver_venv"] = json.loads(out.stdout) if out.returncode == 0 else None
    return env
