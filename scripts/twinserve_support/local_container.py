"""The container without a container runtime: gunicorn exactly as the image runs it, pod limits applied.

What is the same as the pod: the gunicorn config file (``services/predict-container/gunicorn.conf.py``),
the WSGI entry, the server settings from the kustomize ConfigMap (``WEB_CONCURRENCY``,
``GUNICORN_THREADS``, ...), and the CPU/memory limits of the predictor container in the k8s
Deployment (read by :func:`twinserve_support.k8s.manifests.pod_settings`), applied through a cgroup (see
:mod:`twinserve_support.process.cgroup`; recorded when not possible).
What is not: no image pull, no kubelet/probe delays, loopback networking, a shared kernel page
cache (a second start finds the model's files already cached — as on a node that ran the pod before).

``with LocalContainer() as c:`` starts it and waits until ``GET /ready`` answers 200; ``c.url`` is
the base URL, ``c.timings`` has ``spawn_to_ready_ms``. Leaving the block stops the whole process
tree (:class:`~twinserve_support.process.managed.ManagedProcess`: SIGTERM to its process group, SIGKILL
after the graceful timeout, then anything left in the cgroup), on success, failure and Ctrl-C alike.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from twinserve_support.k8s.manifests import pod_settings
from twinserve_support.paths import CONTAINER_SERVICE as APP_DIR
from twinserve_support.paths import REPO
from twinserve_support.process.managed import ManagedProcess, ManagedServer, ProcessNotReady, http_probe
from twinserve_support.process.net import free_port

__all__ = ["ContainerStartError", "LocalContainer"]


class ContainerStartError(ProcessNotReady):
    """gunicorn exited or did not become ready in time; the message ends with its last log lines."""


class LocalContainer(ManagedServer):
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
        self.cpus = float(cpus if cpus is not None else pod.cpus)
        self.memory_mb = int(memory_mb if memory_mb is not None else pod.memory_mb)
        self.model_path = Path(model_path or os.environ.get("MODEL_PATH") or REPO / "model")
        self.server_env = {**pod.env, **(env or {})}
        self.limits_source = pod.source
        self.ready_timeout_s = ready_timeout_s
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{self.port}"
        self.timings: dict[str, float] = {}
        self.process: ManagedProcess | None = None

    # -- description for results.json
    def describe(self) -> dict[str, object]:
        cgroup = self.process.cgroup if self.process is not None else None
        return {
            "runtime": self.runtime,
            "cpus": self.cpus,
            "memory_mb": self.memory_mb,
            "limits_source": self.limits_source,
            "server_env": dict(self.server_env),
            **(cgroup.describe() if cgroup is not None else {}),
        }

    def _environment(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.server_env,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            # The side listener's port (9091 in the pod) is per instance here: several servers
            # may run at once on one machine.
            "METRICS_PORT": self.server_env.get("METRICS_PORT") or str(free_port()),
            "MODEL_PATH": str(self.model_path),
            # Each pod has its own filesystem; locally, gunicorn's default control socket
            # (~/.gunicorn/gunicorn.ctl) would be shared by every instance we start.
            "GUNICORN_CMD_ARGS": " ".join(filter(None, [
                os.environ.get("GUNICORN_CMD_ARGS", ""),
                f"--control-socket {tempfile.gettempdir()}/twinbench-gunicorn-{self.port}.ctl"])),
        }

    def start(self) -> None:
        """Spawn gunicorn in the pod's cgroup (does not wait for readiness; see :meth:`wait_ready`)."""
        self.process = ManagedProcess(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
            name="gunicorn", env=self._environment(), cwd=APP_DIR, log_path=self.log_path,
            cpus=self.cpus, memory_mb=self.memory_mb,
            ready=http_probe(self.port, "/ready", timeout_s=0.5), ready_timeout_s=self.ready_timeout_s,
            poll_s=0.005, error=ContainerStartError)
        self.process.start()

    def wait_ready(self) -> float:
        """Poll ``/ready`` until 200; returns ms since spawn. Raises :class:`ContainerStartError`."""
        if self.process is None:
            raise RuntimeError("start() first")
        ready_ms = self.process.wait_ready()
        self.timings["spawn_to_ready_ms"] = ready_ms
        return ready_ms

    @property
    def spawned_at(self) -> float:
        """``perf_counter`` seconds at spawn (to time the first answer from the process start)."""
        if self.process is None or self.process.spawned_at is None:
            return 0.0
        return self.process.spawned_at

    def memory_peak_mb(self) -> float | None:
        return self.process.memory_peak_mb() if self.process is not None else None

    def open(self) -> None:
        self.start()
        self.wait_ready()

    def stop(self, graceful_s: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL after ``graceful_s``, then empty and remove the cgroup."""
        if self.process is not None:
            self.process.stop(grace_s=graceful_s)
