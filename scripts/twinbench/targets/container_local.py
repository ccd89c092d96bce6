"""The container target without a container runtime: gunicorn exactly as the image runs it, pod limits applied.

What is the same as the pod: the gunicorn config file (``services/predict-container/gunicorn.conf.py``),
the WSGI entry, the server settings from the kustomize ConfigMap (``WEB_CONCURRENCY``,
``GUNICORN_THREADS``, ...), and the CPU/memory limits of the predictor container in the k8s
Deployment, applied through a cgroup (see :mod:`twinbench.process.cgroup`; recorded when not possible).
What is not: no image pull, no kubelet/probe delays, loopback networking, a shared kernel page
cache (a second start finds the model's files already cached — as on a node that ran the pod before).

``with LocalContainer() as c:`` starts it and waits until ``GET /ready`` answers 200; ``c.url`` is
the base URL, ``c.timings`` has ``spawn_to_ready_ms``. Leaving the block stops the whole process
tree (SIGTERM to its process group, SIGKILL after the graceful timeout, then anything left in the
cgroup), on success, failure and Ctrl-C alike.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from twinbench.process.cgroup import CgroupLimit
from twinbench.process.logtail import log_tail
from twinbench.process.net import free_port

__all__ = ["LocalContainer", "ContainerStartError", "pod_settings"]

from twinbench.project.paths import REPO  # noqa: E402

APP_DIR = REPO / "services" / "predict-container"
DEFAULT_CPUS = 1.0
DEFAULT_MEMORY_MB = 1024


class ContainerStartError(RuntimeError):
    """gunicorn exited or did not become ready in time; the message ends with its last log lines."""


def _quantity(value: object) -> float:
    """Kubernetes quantity -> float (cores for cpu, bytes for memory). Only the suffixes used here."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


def pod_settings(repo: Path = REPO) -> dict[str, object]:
    """The predictor pod's limits and server env from ``k8s/base``; defaults when absent.

    Returns ``{"cpus", "memory_mb", "env", "source"}``. Never raises for a missing or odd
    manifest: the benchmark then runs with 1 CPU / 1 GiB and says so in ``source``.
    """
    settings: dict[str, object] = {"cpus": DEFAULT_CPUS, "memory_mb": DEFAULT_MEMORY_MB, "env": {},
                                   "source": "default (no k8s/base/deployment.yaml)"}
    deployment = repo / "k8s" / "base" / "deployment.yaml"
    try:
        for doc in yaml.safe_load_all(deployment.read_text()):
            if not doc or doc.get("kind") != "Deployment":
                continue
            for container in doc["spec"]["template"]["spec"]["containers"]:
                limits = container.get("resources", {}).get("limits", {})
                if "cpu" in limits:
                    settings["cpus"] = _quantity(limits["cpu"])
                if "memory" in limits:
                    settings["memory_mb"] = int(_quantity(limits["memory"]) // 2**20)
                settings["source"] = str(deployment.relative_to(repo))
                break
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        pass
    kustomization = repo / "k8s" / "base" / "kustomization.yaml"
    env: dict[str, str] = {}
    with contextlib.suppress(OSError, KeyError, TypeError, AttributeError, yaml.YAMLError):
        for generator in yaml.safe_load(kustomization.read_text()).get("configMapGenerator", []):
            for literal in generator.get("literals", []):
                key, _, value = str(literal).partition("=")
                env[key] = value
    settings["env"] = env
    return settings


def _ready(port: int, path: str = "/ready", timeout_s: float = 1.0) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


class LocalContainer:
    """gunicorn serving the container app on ``127.0.0.1:port`` under the pod's limits."""

    runtime = "gunicorn"

    def __init__(
        self,
        port: int = 0,
        cpus: float | None = None,
        memory_mb: int | None = None,
        model_path: Path | None = None,
        env: dict[str, str] | None = None,
        ready_timeout_s: float = 90.0,
        log_path: Path | None = None,
    ) -> None:
        pod = pod_settings()
        self.port = port or free_port()
        self.cpus = float(cpus if cpus is not None else pod["cpus"])  # type: ignore[arg-type]
        self.memory_mb = int(memory_mb if memory_mb is not None else pod["memory_mb"])  # type: ignore[arg-type]
        self.model_path = Path(model_path or os.environ.get("MODEL_PATH") or REPO / "model")
        self.server_env = {**pod["env"], **(env or {})}  # type: ignore[dict-item]
        self.limits_source = pod["source"]
        self.ready_timeout_s = ready_timeout_s
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{self.port}"
        self.timings: dict[str, float] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._cgroup: CgroupLimit | None = None
        self._log = None
        self._spawned_at = 0.0

    # -- description for results.json
    def describe(self) -> dict[str, object]:
        limits = self._cgroup.describe() if self._cgroup else {}
        return {
            "runtime": self.runtime,
            "cpus": self.cpus,
            "memory_mb": self.memory_mb,
            "limits_source": self.limits_source,
            "server_env": dict(self.server_env),
            **limits,
        }

    def start(self) -> None:
        """Spawn gunicorn (does not wait for readiness; see :meth:`wait_ready`)."""
        self._cgroup = CgroupLimit("container", self.cpus, self.memory_mb)
        env = {
            **os.environ,
            **self.server_env,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "MODEL_PATH": str(self.model_path),
            "PYTHONPATH": os.pathsep.join([str(REPO / "shared"), str(APP_DIR)]),
            # Each pod has its own filesystem; locally, gunicorn's default control socket
            # (~/.gunicorn/gunicorn.ctl) would be shared by every instance we start.
            "GUNICORN_CMD_ARGS": " ".join(filter(None, [
                os.environ.get("GUNICORN_CMD_ARGS", ""),
                f"--control-socket {tempfile.gettempdir()}/twinbench-gunicorn-{self.port}.ctl"])),
        }
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        cgroup = self._cgroup

        def preexec() -> None:
            cgroup.preexec()

        self._spawned_at = time.perf_counter()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
            cwd=APP_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,  # its own process group: one signal reaches every worker
            preexec_fn=preexec,
        )

    def wait_ready(self) -> float:
        """Poll ``/ready`` until 200; returns ms since spawn. Raises :class:`ContainerStartError`."""
        assert self._proc is not None, "start() first"
        deadline = self._spawned_at + self.ready_timeout_s
        while True:
            if self._proc.poll() is not None:
                raise ContainerStartError(f"gunicorn exited with {self._proc.returncode}{self._tail()}")
            if _ready(self.port, timeout_s=0.5):
                break
            if time.perf_counter() > deadline:
                raise ContainerStartError(f"not ready after {self.ready_timeout_s:.0f} s{self._tail()}")
            time.sleep(0.005)
        ready_ms = (time.perf_counter() - self._spawned_at) * 1000.0
        self.timings["spawn_to_ready_ms"] = ready_ms
        return ready_ms

    @property
    def spawned_at(self) -> float:
        """``perf_counter`` seconds at spawn (to time the first answer from the process start)."""
        return self._spawned_at

    def memory_peak_mb(self) -> float | None:
        return self._cgroup.memory_peak_mb() if self._cgroup else None

    def _tail(self, lines: int = 15) -> str:
        return log_tail(self.log_path, "gunicorn log", lines)

    def stop(self, graceful_s: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL after ``graceful_s``, then empty and remove the cgroup."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=graceful_s)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            # Workers that outlived the master (should not happen) still share its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self._cgroup is not None:
            self._cgroup.close()
            self._cgroup = None
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()  # type: ignore[union-attr]
            self._log = None

    def __enter__(self) -> LocalContainer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop(graceful_s=2.0)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
