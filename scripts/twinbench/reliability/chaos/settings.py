"""What ``make chaos`` injects and how: the fault names, the settings, and the fixed rules (recovery
bins, the arbiter's loop, rates), everything on 127.0.0.1.

Why in one module: the checks of a run and the tests that mirror them read the same bounds.
Faults: container ``worker-sigkill``, ``worker-oom``, ``worker-stall``, ``master-sigkill``; local
Lambda ``env-sigkill``, ``env-timeout``, ``init-failure``; the bench itself ``target-vanishes``,
``interrupt-sigint``, ``interrupt-sigterm``. What each does and what must hold after it:
docs/benchmark.md, "Chaos faults, one by one"; the figures: docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

from twinserve_support.paths import REPO

RESULTS = REPO / "results"
CONTAINER_FAULTS = ("worker-sigkill", "worker-oom", "worker-stall", "master-sigkill")
LAMBDA_FAULTS = ("env-sigkill", "init-failure", "env-timeout")
BENCH_FAULTS = ("target-vanishes", "interrupt-sigint", "interrupt-sigterm")
ALL_FAULTS = CONTAINER_FAULTS + LAMBDA_FAULTS + BENCH_FAULTS
TARGET_OF = {**{f: "container" for f in CONTAINER_FAULTS}, **{f: "lambda" for f in LAMBDA_FAULTS},
             **{f: "bench" for f in BENCH_FAULTS}}

# A failed request counts as "held in flight" by the process killed when it was sent before the
# kill, or within this grace after it: the client learns that a kept-alive connection is dead
# only when its FIN/RST is processed by the event loop.
SENT_GRACE_S = 0.05
# Recovery: 1-s bins by intended send time; recovered at the first of RECOVERED_BINS bins in a row
# with no error, p99 <= P99_FACTOR x baseline + P99_SLACK_MS, and >= THROUGHPUT_FRACTION of the
# baseline throughput completed.
BIN_S = 1.0
RECOVERED_BINS = 2
P99_FACTOR = 1.5
P99_SLACK_MS = 2.0
THROUGHPUT_FRACTION = 0.9
# gunicorn's arbiter checks heartbeats once per loop (1 s) and sends a timed-out worker SIGABRT
# (SIGKILL one loop later). A SIGSTOPped worker keeps SIGABRT pending; gunicorn.conf.py's
# `when_ready` hook sends SIGCONT right after the abort, so it exits at once. The stall is thus
# seen, and the worker killed, within timeout + one loop (the worst phase: the last check before
# the timeout just missed it). The margin covers exit, reap and fork (docs/measurements.md) and the
# arbiter's loop running a few ms past each second, with room for a loaded host.
ARBITER_LOOP_S = 1.0
STALL_MARGIN_S = 0.25
STALL_LIMIT_EXTRA_S = ARBITER_LOOP_S + STALL_MARGIN_S
# A large, valid batch: what makes a worker allocate past a lowered limit.
OOM_BATCH_ROWS = 1000
OOM_LIMIT_KB = 256
SATURATION_LEVELS = (2, 8)
RATE_CHECK_S = 4.0
RATE_CHECKS = 4
RATE_BACKOFF = 0.7
SATURATION_STEP_S = 3.0
CLIENT_TIMEOUT_S = 10.0
GUNICORN_CONF = REPO / "services" / "predict-container" / "gunicorn.conf.py"


class FaultError(RuntimeError):
    """A fault could not be injected as described (no worker to pick, no cgroup...); the message says why."""


@dataclass(frozen=True)
class ChaosSettings:
    """What ``make chaos`` runs. Durations in seconds, rates in requests/s."""

    faults: tuple[str, ...] = ALL_FAULTS
    rps: float | None = None
    """Offered rate for every target; ``None`` measures each target's saturation (closed loop, a
    few seconds) and offers ``load_fraction`` of it."""
    load_fraction: float = 0.5
    pre_s: float = 5.0
    """Quiet stream before each fault: the baseline, and the interval between two faults."""
    window_s: float = 15.0
    """Stream after each fault (the stall gets at least gunicorn's timeout + 8 s)."""
    gunicorn_timeout_s: int | None = None
    """``GUNICORN_TIMEOUT`` for the container; ``None`` = the pod's (gunicorn.conf.py's default)."""
    lambda_timeout_s: float = 2.0
    """The local Lambda's function timeout (the deployed one is longer; a short one keeps the
    run bounded, and a prediction takes milliseconds)."""
    lambda_environments: int = 16
    """Cap on local execution environments: real Lambda starts another environment where the
    default local cap (cores / vCPU) would answer 429 while one environment is stalled."""
    oom_limit_kb: int = OOM_LIMIT_KB
    package_dir: Path = REPO / "build" / "lambda" / "pkg"
    out_dir: Path | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(ALL_FAULTS))
        if unknown or not self.faults:
            raise ValueError(f"unknown fault(s) {unknown or list(self.faults)}; choose from {', '.join(ALL_FAULTS)}")
        for name in ("pre_s", "window_s", "lambda_timeout_s", "load_fraction"):
            value = getattr(self, name)
            if not (value > 0 and value == value and value != float("inf")):
                raise ValueError(f"{name} must be a finite number > 0, got {value}")
        if self.rps is not None and not (0 < self.rps < 1e6):
            raise ValueError(f"rps must be within (0, 1e6), got {self.rps}")
        if self.gunicorn_timeout_s is not None and not 1 <= self.gunicorn_timeout_s <= 3600:
            raise ValueError(f"gunicorn_timeout_s must be within 1..3600, got {self.gunicorn_timeout_s}")
        if self.oom_limit_kb <= 0 or self.lambda_environments < 2:
            raise ValueError("oom_limit_kb must be > 0 and lambda_environments >= 2")

    def targets(self) -> list[str]:
        return list(dict.fromkeys(TARGET_OF[f] for f in self.faults))


def pod_gunicorn_timeout_s(conf: Path = GUNICORN_CONF) -> int:
    """gunicorn's ``timeout`` as the pod runs it: ``GUNICORN_TIMEOUT``'s default in gunicorn.conf.py
    (the ConfigMap does not set it). 30 (gunicorn's own default) when the file cannot be read."""
    with contextlib.suppress(OSError):
        found = re.search(r'_int\("GUNICORN_TIMEOUT",\s*(\d+)\)', conf.read_text())
        if found:
            return int(found.group(1))
    return 30
