"""The servers ``bench-peers`` compares: their specs, processes and probes, and the model files they share."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from twinserve_support.paths import REPO
from twinserve_support.process.managed import ManagedProcess, ManagedServer, ProcessNotReady, http_probe
from twinserve_support.process.net import free_port

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
    "twinserve": "twinserve container (nginx + gunicorn sync workers, ONNX Runtime)",
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
