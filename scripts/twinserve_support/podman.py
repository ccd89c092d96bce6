"""The container for real: the image built by ``make image``, run by podman like the pod.

Why: the image's user, read-only root, dropped capabilities and limits only hold if something
runs it that way. Same as the pod (k8s/base/deployment.yaml): image, CMD, UID/GID 10001, a
read-only root with a 64 MiB ``/tmp`` tmpfs, every capability dropped, the CPU and memory limits
given; not the same: host networking bound to 127.0.0.1, no kubelet probes. Podman always uses
the project's own configuration (``build/podman/*.conf``), never /etc/containers.
``with PodmanContainer(port=8080, cpus=1.0, memory_mb=1024) as c:`` runs ``podman run`` in the
foreground as a :class:`~twinserve_support.process.managed.ManagedProcess`, waits for ``GET /ready``
200, and on leaving sends SIGTERM, then SIGKILL after ``stop_timeout_s``, and removes the
container by name on every exit path.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from twinserve_support.process.managed import ManagedProcess, ManagedServer, ProcessNotReady, http_probe
from twinserve_support.process.net import free_port, http_status

__all__ = ["PodmanContainer", "PodmanStartError", "PodmanError", "podman_env", "DEFAULT_IMAGE"]

from twinserve_support.paths import REPO  # noqa: E402

PODMAN_ROOT = REPO / "build" / "podman"
DEFAULT_IMAGE = os.environ.get("TWINSERVE_IMAGE", "localhost/twinserve-predict:0.1.0")
UID_GID = "10001:10001"
# The pod's emptyDir on /tmp (medium: Memory, sizeLimit: 64Mi).
TMP_TMPFS = "/tmp:rw,nosuid,nodev,size=64m,mode=1777"
_serial = itertools.count(1)


class PodmanError(RuntimeError):
    """A podman command failed; the message carries its stderr."""


class PodmanStartError(ProcessNotReady):
    """The container exited or did not become ready in time; the message ends with its log tail."""


def podman_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for every podman call: the project's containers/storage/registries config.

    Raises PodmanError when ``make image`` has not rendered the configuration yet.
    """
    env = dict(os.environ if base is None else base)
    conf = {
        "CONTAINERS_CONF": PODMAN_ROOT / "containers.conf",
        "CONTAINERS_STORAGE_CONF": PODMAN_ROOT / "storage.conf",
        "CONTAINERS_REGISTRIES_CONF": REPO / "infra" / "podman" / "registries.conf",
    }
    for name, path in conf.items():
        if not path.is_file():
            raise PodmanError(f"{path} is missing: run `make image` first")
        env[name] = str(path)
    return env


def podman(*args: str, check: bool = True, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``podman ARGS`` with the project's configuration; raises PodmanError on a non-zero exit."""
    proc = subprocess.run(["podman", *args], env=podman_env(), capture_output=True, text=True,
                          timeout=timeout_s, check=False)
    if check and proc.returncode != 0:
        raise PodmanError(f"podman {' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


class PodmanContainer(ManagedServer):
    """One container of the predictor image on ``127.0.0.1:port`` with pod-like limits.

    ``cpus`` is in cores (podman --cpus), ``memory_mb`` in MiB (podman --memory, swap off).
    ``env`` adds or overrides environment variables (e.g. WEB_CONCURRENCY); HOST is always
    127.0.0.1 and PORT is ``port``. ``ready_timeout_s`` bounds the wait for ``GET /ready``;
    ``stop_timeout_s`` is how long to wait after SIGTERM before SIGKILL. ``log_path`` keeps the
    container's output (a temporary file, removed after :meth:`stop` read it into :attr:`logs`, when ``None``).
    """

    def __init__(
        self,
        port: int,
        cpus: float,
        memory_mb: int,
        *,
        image: str = DEFAULT_IMAGE,
        env: Mapping[str, str] | None = None,
        ready_timeout_s: float = 60.0,
        stop_timeout_s: int = 30,
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
    ) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1..65535, got {port}")
        if cpus <= 0 or memory_mb <= 0:
            raise ValueError(f"cpus and memory_mb must be positive, got {cpus}, {memory_mb}")
        self.port = port
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.image = image
        self.env = dict(env or {})
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.extra_args = list(extra_args)
        self.log_path = log_path
        # Named by us, so every podman command can address it before `podman run` prints anything.
        self.name = f"twinbench-{port}-{os.getpid()}-{next(_serial)}"
        self.container_id: str | None = None
        self.exit_code: int | None = None
        self.logs: str = ""
        self.timings: dict[str, float] = {}
        self.process: ManagedProcess | None = None
        self._temp_log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run_args(self) -> list[str]:
        """The full ``podman run`` argument list (without the leading ``podman``)."""
        # Host networking: the side listener's port (9091 in the pod) is chosen free here too.
        env = {"METRICS_PORT": str(free_port()), **self.env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        args = [
            "run", f"--name={self.name}", "--pull=never",
            # Never a bridge network: host networking, bound to loopback by HOST above.
            "--network=host",
            f"--cpus={self.cpus:g}", f"--memory={self.memory_mb}m", f"--memory-swap={self.memory_mb}m",
            f"--user={UID_GID}",
            "--read-only", "--read-only-tmpfs=false", f"--tmpfs={TMP_TMPFS}",
            "--cap-drop=ALL", "--security-opt=no-new-privileges",
            # Podman schedules HEALTHCHECK with systemd timers, absent here; the smoke test runs
            # the image's HEALTHCHECK command itself (see healthcheck()).
            "--no-healthcheck",
            "--label=org.twinserve.owner=podman_container",
            *self.extra_args,
        ]
        for key, value in sorted(env.items()):
            args.append(f"--env={key}={value}")
        args.append(self.image)
        return args

    def start(self) -> None:
        """Run the container (``podman run`` in the foreground) and wait until /ready is 200.

        Raises PodmanStartError (the container is removed) when it exits or times out.
        """
        if http_status(self.port, "/health", timeout_s=0.2) is not None:
            raise PodmanStartError(f"something already answers on 127.0.0.1:{self.port}")
        log = self.log_path
        if log is None:
            fd, name = tempfile.mkstemp(prefix="twinbench-podman-", suffix=".log")
            os.close(fd)
            log = self._temp_log = Path(name)
        self.process = ManagedProcess(["podman", *self.run_args()], name=f"container {self.image}",
                                      env=podman_env(), log_path=log, ready=http_probe(self.port, "/ready"),
                                      ready_timeout_s=self.ready_timeout_s, grace_s=self.stop_timeout_s,
                                      error=PodmanStartError, log_lines=30)
        self.container_id = self.name
        try:
            self.process.start()
            self.timings["start_to_ready_ms"] = self.process.wait_ready()
        except BaseException:
            self.process.stop(grace_s=0.0)
            self.logs = self.process.log_text()
            self.remove()
            raise

    def running(self) -> bool:
        if self.container_id is None or self.process is None or not self.process.running:
            return False
        proc = podman("inspect", "--format", "{{.State.Running}}", self.container_id, check=False)
        return proc.returncode == 0 and proc.stdout.strip() == "true"

    def log_tail(self, lines: int = 30) -> str:
        if self.process is None:
            return ""
        return "\n".join(self.process.log_text().splitlines()[-lines:])

    def exec(self, *cmd: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a command inside the running container (as its user); never raises on exit status."""
        if self.container_id is None:
            raise PodmanError("container is not running")
        return podman("exec", self.container_id, *cmd, check=False, timeout_s=timeout_s)

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """Run the image's own HEALTHCHECK command in the container (what podman/docker would)."""
        test = podman("image", "inspect", "--format", "{{json .HealthCheck.Test}}", self.image).stdout
        argv = json.loads(test or "null")
        if not argv or argv[0] not in ("CMD", "CMD-SHELL"):
            raise PodmanError(f"image {self.image} has no HEALTHCHECK (got {argv!r}); build with --format docker")
        cmd = argv[1:] if argv[0] == "CMD" else ["/bin/sh", "-c", argv[1]]
        return self.exec(*cmd)

    def memory_peak_mb(self) -> float | None:
        """Peak memory of the container's cgroup in MiB (cgroup v1 or v2), or None if unreadable."""
        if self.container_id is None:
            return None
        proc = podman("inspect", "--format", "{{.State.CgroupPath}}", self.container_id, check=False)
        rel = proc.stdout.strip().lstrip("/")
        for path in (Path("/sys/fs/cgroup/memory") / rel / "memory.max_usage_in_bytes",
                     Path("/sys/fs/cgroup") / rel / "memory.peak"):
            try:
                return int(path.read_text()) / 2**20
            except (OSError, ValueError):
                continue
        return None

    def stop(self) -> None:
        """SIGTERM (passed to the container), SIGKILL after stop_timeout_s, keep exit code and logs, remove."""
        if self.process is None or self.container_id is None:
            return
        try:
            # As the kubelet does: SIGTERM to the container's PID 1, SIGKILL after the grace period.
            # Signalling the foreground `podman run` instead proxies SIGTERM to the container, which
            # exits at once, but `podman run` itself then lingers ~20 s before it exits (measured).
            started = time.perf_counter()
            podman("stop", f"--time={self.stop_timeout_s}", self.container_id, check=False,
                   timeout_s=self.stop_timeout_s + 30.0)
            self.timings["stop_ms"] = (time.perf_counter() - started) * 1000.0
            self.process.stop(grace_s=5.0)
            code = podman("inspect", "--format", "{{.State.ExitCode}}", self.container_id, check=False)
            text = code.stdout.strip()
            self.exit_code = int(text) if text.lstrip("-").isdigit() else self.process.returncode
            self.logs = self.process.log_text()
        finally:
            self.remove()

    def remove(self) -> None:
        if self.container_id is not None:
            with contextlib.suppress(OSError, subprocess.SubprocessError, PodmanError):  # podman missing
                podman("rm", "--force", "--time=0", self.container_id, check=False)
            self.container_id = None
        if self._temp_log is not None:
            with contextlib.suppress(OSError):
                self._temp_log.unlink()
            self._temp_log = None
