"""The container target: gunicorn under the pod's limits (local) or the image under podman; cold = a new server."""

from __future__ import annotations

import time
from pathlib import Path

from twinserve_support.k8s.manifests import pod_settings
from twinserve_support.local_container import LocalContainer
from twinserve_support.process.net import free_port

from twinbench.targets.base import (
    ColdSample,
    Target,
    timed_post,
)


class ContainerTarget(Target):
    """gunicorn (or podman) locally, under the pod's CPU/memory limits."""

    kind = "container"
    mode = "local"

    def __init__(self, runtime: str = "gunicorn", log_dir: Path | None = None) -> None:
        self.name = "container"
        self.runtime = runtime
        self.notes = []
        self.log_dir = log_dir
        pod = pod_settings()
        self.cpus = pod.cpus
        self.memory_mb = pod.memory_mb
        self.cpus_effective = self.cpus
        self._server = None
        self._description: dict[str, object] = {}
        self._cold_count = 0

    def _new_server(self, tag: str, stop_timeout_s: int = 30):
        log = self.log_dir / f"container-{tag}.log" if self.log_dir else None
        if self.runtime == "podman":
            try:
                from twinserve_support.podman import PodmanContainer
            except ImportError as exc:
                raise RuntimeError("--container-runtime podman: twinserve_support.podman is not available in "
                                   f"this checkout ({exc})") from exc
            return PodmanContainer(port=free_port(), cpus=self.cpus, memory_mb=self.memory_mb,
                                   stop_timeout_s=stop_timeout_s, log_path=log)
        return LocalContainer(cpus=self.cpus, memory_mb=self.memory_mb, log_path=log)

    def _podman_description(self, server) -> dict[str, object]:
        pod = pod_settings()
        return {"runtime": "podman", "image": server.image, "cpus": self.cpus, "memory_mb": self.memory_mb,
                "limits_source": pod.source, "server_env": dict(pod.env),
                # podman --cpus/--memory put the container in its own cgroup with those limits.
                "cpu_quota_applied": True, "memory_limit_applied": True,
                "start_to_ready_ms": server.timings.get("start_to_ready_ms")}

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "mode": self.mode, "runtime": self.runtime,
                "url": self.url, "notes": self.notes, "config": self._description}

    def __enter__(self) -> ContainerTarget:
        self._server = self._new_server("serving")
        self._server.__enter__()
        self.url = self._server.url
        if isinstance(self._server, LocalContainer):
            self._description = self._server.describe()
        else:
            self._description = self._podman_description(self._server)
            self.notes.append(f"real image {self._server.image} under podman (host network on 127.0.0.1, "
                              "read-only root, pod limits via --cpus/--memory)")
        applied = self._description.get("cpu_quota_applied")
        if applied is False:
            self.notes.append("pod CPU limit NOT applied (no writable cgroup): the container could use every core")
        return self

    def __exit__(self, *exc: object) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.__exit__(None, None, None)

    def cold_sample(self, body: bytes) -> ColdSample:
        """A new server (process or container): start -> ready -> first answer; the serving one is untouched."""
        self._cold_count += 1
        server = self._new_server(f"cold-{self._cold_count}", stop_timeout_s=2)
        try:
            if isinstance(server, LocalContainer):
                server.start()
                ready_ms = server.wait_ready()
                spawned_at = server.spawned_at
            else:  # podman: `podman run` -> /ready 200 is timed inside start()
                spawned_at = time.perf_counter()
                server.start()
                ready_ms = server.timings.get("start_to_ready_ms", (time.perf_counter() - spawned_at) * 1000.0)
            status, _, request_ms = timed_post(server.url + "/predict", body)
            first_ms = (time.perf_counter() - spawned_at) * 1000.0
        finally:
            if isinstance(server, LocalContainer):
                server.stop(graceful_s=1.0)  # gunicorn 27 can hang on SIGTERM while a worker boots
            else:
                server.stop()
        return ColdSample(first_response_ms=first_ms, init_ms=ready_ms, request_ms=request_ms,
                          verified_cold=True, status=status)
