"""Settings of the local Lambda: one typed object, documented defaults, env-var names in one place.

Precedence (lowest to highest): built-in default < ``serverless.yml`` as the Framework resolves it
(memory, timeout, architecture of the function at ``LAMBDA_STAGE`` with ``LAMBDA_PARAMS``) <
environment variable < explicit argument. Nothing is read at import time: :meth:`LambdaSettings.from_env`
reads the environment when it is called.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# Environment variable names (the Makefile and the benchmark set these).
ENV_MEMORY_MB = "LAMBDA_MEMORY_MB"
ENV_RESERVED_CONCURRENCY = "LAMBDA_RESERVED_CONCURRENCY"
ENV_IDLE_S = "LAMBDA_IDLE_S"
ENV_TIMEOUT_S = "LAMBDA_TIMEOUT_S"
ENV_ACCOUNT_CONCURRENCY = "LAMBDA_ACCOUNT_CONCURRENCY"
ENV_THROTTLE_RATE_RPS = "LAMBDA_THROTTLE_RATE_RPS"
ENV_THROTTLE_BURST = "LAMBDA_THROTTLE_BURST"
ENV_STAGE = "LAMBDA_STAGE"
ENV_PARAMS = "LAMBDA_PARAMS"

from twinserve_support.lambda_caps import Caps, deployed_caps  # noqa: E402
from twinserve_support.paths import REPO as REPO_ROOT  # noqa: E402
from twinserve_support.serverless_config import ResolvedFunction, parse_param_overrides, resolve_function  # noqa: E402

DEFAULT_PYTHON = REPO_ROOT / ".venv-lambda" / "bin" / "python"
DEFAULT_PACKAGE_DIR = REPO_ROOT / "build" / "lambda" / "pkg"
FALLBACK_MEMORY_MB = 1024

# Lambda gives a function one full vCPU at 1,769 MB and CPU in proportion to memory below/above it
# (AWS Lambda Developer Guide, "Configure Lambda function memory": "At 1,769 MB, a function has
# the equivalent of one vCPU").
MB_PER_VCPU = 1769
# Lambda's INIT phase limit for on-demand functions. A slower init is retried inside the invoke
# phase under the function timeout, so a cold request may wait up to this plus timeout_s.
INIT_TIMEOUT_S = 10.0

def lambda_vcpu(memory_mb: float) -> float:
    """The CPU share, in vCPUs, Lambda gives a function of ``memory_mb`` MB (memory / 1,769 MB)."""
    return memory_mb / MB_PER_VCPU


def deployed_function(environ: Mapping[str, str] | None = None, function: str = "predict") -> ResolvedFunction:
    """The function as serverless.yml deploys it at ``LAMBDA_STAGE`` with ``LAMBDA_PARAMS`` (default: dev, none).

    Raises ServerlessConfigError when serverless.yml cannot be resolved.
    """
    environ = os.environ if environ is None else environ
    return resolve_function(function, environ.get(ENV_STAGE) or "dev", parse_param_overrides(environ.get(ENV_PARAMS)))


def deployed_function_caps(environ: Mapping[str, str] | None = None, function: str = "predict") -> Caps:
    """The caps serverless.yml deploys at ``LAMBDA_STAGE`` with ``LAMBDA_PARAMS`` (see :mod:`.caps`).

    Raises ServerlessConfigError (or CapsError, both ValueErrors) when they cannot be resolved.
    """
    environ = os.environ if environ is None else environ
    return deployed_caps(environ.get(ENV_STAGE) or "dev", parse_param_overrides(environ.get(ENV_PARAMS)), function)


def _optional_int(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "" or raw.strip().lower() in {"none", "unlimited"}:
        return None
    return int(raw)


def _optional_float(raw: str | None) -> float | None:
    if raw is None or raw.strip() == "" or raw.strip().lower() in {"none", "unlimited"}:
        return None
    return float(raw)


@dataclass(frozen=True, slots=True)
class LambdaSettings:
    """How the local Lambda runs one function.

    Every duration is in seconds (``_s``) and every size in MB (``_mb``, Lambda's MB = MiB).
    """

    package_dir: Path
    """The unzipped deployment package: cwd, ``LAMBDA_TASK_ROOT`` and the only ``PYTHONPATH`` entry."""
    handler: str = "handler.handler"
    """``module.function`` as in serverless.yml."""
    memory_mb: int = FALLBACK_MEMORY_MB
    """Memory Size in REPORT lines; also sets the CPU quota (memory_mb / 1769 vCPU)."""
    reserved_concurrency: int | None = None
    """Cap on execution environments; a request above it gets HTTP 429. ``None`` = no reservation
    (:meth:`from_env` takes serverless.yml's ``reservedConcurrency``)."""
    throttle_rate_rps: float | None = None
    """HTTP API route throttling: tokens per second of each route's bucket; ``None`` = off
    (:meth:`from_env` takes serverless.yml's ``throttleRateLimit``). Set with ``throttle_burst``."""
    throttle_burst: int | None = None
    """HTTP API route throttling: the bucket's size; beyond it (and the rate) the front answers 429
    without invoking the function, as API Gateway does (:meth:`from_env`: ``throttleBurstLimit``)."""
    account_concurrency: int = 64
    """Safety cap when no reservation is set (Lambda's account limit, scaled to one machine)."""
    idle_s: float = 300.0
    """An environment idle this long is reaped; the next request then starts cold."""
    timeout_s: float = 30.0
    """Function timeout: the invocation fails (HTTP 504) and its environment is destroyed."""
    architecture: str = "x86_64"
    """Instruction set serverless.yml deploys (reported; the local machine's own CPU runs the code)."""
    init_timeout_s: float = INIT_TIMEOUT_S
    """Extra time a cold request may spend in INIT before the function timeout starts counting."""
    python: Path = DEFAULT_PYTHON
    """Interpreter with awslambdaric installed (the runtime provides it, not the package)."""
    host: str = "127.0.0.1"
    port: int = 0
    """Port of the HTTP front; 0 = any free port."""
    cpu_quota: bool = True
    """Apply memory/1769 vCPU through a cgroup when the machine allows it."""
    function_name: str = "twinserve-local"
    env: Mapping[str, str] = field(default_factory=dict)
    """Function environment variables (as in serverless.yml ``environment:``)."""

    def __post_init__(self) -> None:
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"memory_mb must be within Lambda's 128..10240 MB, got {self.memory_mb}")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 0:
            raise ValueError("reserved_concurrency must be >= 0 (0 throttles every request)")
        # Raises CapsError (a ValueError) for a half-set or non-positive route throttle.
        Caps(None, self.throttle_rate_rps, self.throttle_burst)
        for name in ("idle_s", "timeout_s", "init_timeout_s"):  # nan and inf would never time out
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number of seconds > 0, got {value}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be within 0..65535 (0 = any free port), got {self.port}")
        if self.account_concurrency < 1:
            raise ValueError(f"account_concurrency must be >= 1, got {self.account_concurrency}")
        if "." not in self.handler:
            raise ValueError(f"handler must be 'module.function', got {self.handler!r}")

    @property
    def vcpu(self) -> float:
        """CPU share Lambda gives this memory size, in vCPUs (:func:`lambda_vcpu`)."""
        return lambda_vcpu(self.memory_mb)

    @property
    def concurrency_limit(self) -> int:
        """The most environments that may exist at once: the function's reservation, never more than
        the account's concurrency (a run that bounds the account, as chaos does on a small machine,
        bounds every function in it)."""
        if self.reserved_concurrency is not None:
            return min(self.reserved_concurrency, self.account_concurrency)
        return self.account_concurrency

    @classmethod
    def from_env(cls, package_dir: Path, environ: Mapping[str, str] | None = None, **overrides) -> LambdaSettings:
        """Settings from ``LAMBDA_*`` variables; keyword arguments that are not ``None`` override them.

        The caps (reserved concurrency, route throttle rate and burst) are serverless.yml's unless
        ``LAMBDA_RESERVED_CONCURRENCY`` / ``LAMBDA_THROTTLE_RATE_RPS`` / ``LAMBDA_THROTTLE_BURST``
        is set; ``none`` lifts one (the two throttle variables together).

        Raises ``ValueError`` for a malformed variable or a serverless.yml that cannot be resolved
        (:class:`ServerlessConfigError` is a ValueError).
        """
        environ = os.environ if environ is None else environ
        deployed = deployed_function(environ)
        memory = environ.get(ENV_MEMORY_MB)
        caps = deployed_function_caps(environ)
        values: dict[str, object] = {
            "memory_mb": _env_number(ENV_MEMORY_MB, memory, int) if memory else deployed.memory_mb,
            "timeout_s": deployed.timeout_s,
            "architecture": deployed.architecture,
            "reserved_concurrency": (_optional_int(environ[ENV_RESERVED_CONCURRENCY])
                                     if environ.get(ENV_RESERVED_CONCURRENCY) else caps.reserved_concurrency),
            "throttle_rate_rps": (_optional_float(environ[ENV_THROTTLE_RATE_RPS])
                                  if environ.get(ENV_THROTTLE_RATE_RPS) else caps.throttle_rate_rps),
            "throttle_burst": (_optional_int(environ[ENV_THROTTLE_BURST])
                               if environ.get(ENV_THROTTLE_BURST) else caps.throttle_burst),
        }
        if environ.get(ENV_IDLE_S):
            values["idle_s"] = _env_number(ENV_IDLE_S, environ[ENV_IDLE_S], float)
        if environ.get(ENV_TIMEOUT_S):
            values["timeout_s"] = _env_number(ENV_TIMEOUT_S, environ[ENV_TIMEOUT_S], float)
        if environ.get(ENV_ACCOUNT_CONCURRENCY):
            values["account_concurrency"] = _env_number(ENV_ACCOUNT_CONCURRENCY, environ[ENV_ACCOUNT_CONCURRENCY], int)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(package_dir=Path(package_dir), **values)  # type: ignore[arg-type]

    def with_port(self, port: int) -> LambdaSettings:
        return replace(self, port=port)


def _env_number(name: str, text: str, kind: type) -> Any:
    """``text`` of variable ``name`` as ``kind``; a ValueError that names the variable otherwise."""
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a {'whole number' if kind is int else 'number'}") from None
