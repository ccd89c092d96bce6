"""A function's memory, timeout and architecture as the Serverless Framework resolves them.

serverless.yml writes ``memorySize: ${param:memoryMb}``: the figure lives in ``params:`` and may
be set per stage or on the command line (``--param="memoryMb=512"``). The local Lambda, the bench
targets and the cost figures must run at the size that would be deployed, so they read it here,
resolved the way ``osls print`` resolves it (a test compares the two with the real Framework):
``params.default`` < ``params.<stage>`` < ``--param`` overrides, then the function's own
``memorySize``/``timeout`` over the provider's.

Only the variable forms serverless.yml uses for these keys are resolved (``${param:name}`` and
``${param:name, default}``); anything else is a :class:`ServerlessConfigError` naming the key,
rather than a silent default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from twinserve_support.paths import SERVERLESS_YML

__all__ = ["ResolvedFunction", "ServerlessConfigError", "parse_param_overrides", "resolve_function"]

DEFAULT_FUNCTION = "predict"
DEFAULT_STAGE = "dev"
_PARAM = re.compile(r"^\$\{param:([A-Za-z0-9_]+)(?:\s*,\s*(.+?))?\}$")


class ServerlessConfigError(ValueError):
    """serverless.yml cannot be read or a key cannot be resolved; ``str()`` says which."""


@dataclass(frozen=True, slots=True)
class ResolvedFunction:
    """One function's settings after parameter resolution. Sizes in MB (Lambda's MB = MiB)."""

    name: str
    stage: str
    memory_mb: int
    timeout_s: float
    architecture: str
    runtime: str


def parse_param_overrides(pairs: str | None) -> dict[str, str]:
    """``"memoryMb=512 arch=arm64"`` (the ``--param`` values, space- or comma-separated) -> a dict.

    Raises ServerlessConfigError for an item without ``=``.
    """
    out: dict[str, str] = {}
    for item in re.split(r"[,\s]+", pairs or ""):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ServerlessConfigError(f"--param item {item.strip()!r} is not name=value")
        out[key.strip()] = value.strip()
    return out


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ServerlessConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ServerlessConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ServerlessConfigError(f"{path} is not a serverless.yml mapping")
    return doc


def _resolve(value: Any, key: str, params: Mapping[str, Any]) -> Any:
    if not isinstance(value, str):
        return value
    match = _PARAM.match(value.strip())
    if match is None:
        if "${" in value:
            raise ServerlessConfigError(f"{key}: {value!r} uses a variable this resolver does not know")
        return value
    name, fallback = match.groups()
    if name in params:
        return params[name]
    if fallback is not None:
        return yaml.safe_load(fallback)
    raise ServerlessConfigError(f"{key}: parameter {name!r} is not set in params.default, the stage or --param")


def resolve_function(function: str = DEFAULT_FUNCTION, stage: str = DEFAULT_STAGE,
                     overrides: Mapping[str, str] | None = None, path: Path = SERVERLESS_YML) -> ResolvedFunction:
    """The deployed settings of ``function`` at ``stage`` with ``--param`` ``overrides``.

    Raises ServerlessConfigError when the file, the function or a value cannot be resolved.
    """
    doc = _load(path)
    raw_params = doc.get("params") or {}
    params: dict[str, Any] = {**(raw_params.get("default") or {}), **(raw_params.get(stage) or {})}
    params.update({k: yaml.safe_load(v) if isinstance(v, str) and v else v for k, v in (overrides or {}).items()})
    provider = doc.get("provider") or {}
    functions = doc.get("functions") or {}
    if function not in functions:
        raise ServerlessConfigError(f"no function {function!r} in {path} (has: {', '.join(functions) or 'none'})")
    spec = functions[function] or {}

    def value(key: str, default: Any) -> Any:
        raw = spec.get(key, provider.get(key, default))
        return _resolve(raw, key, params)

    try:
        memory = int(value("memorySize", 1024))
        timeout = float(value("timeout", 6))
    except (TypeError, ValueError) as exc:
        raise ServerlessConfigError(f"memorySize/timeout of {function!r} is not a number: {exc}") from exc
    architecture = str(value("architecture", "x86_64"))
    if architecture not in ("x86_64", "arm64"):
        raise ServerlessConfigError(f"architecture {architecture!r} is neither x86_64 nor arm64")
    if not 128 <= memory <= 10240:
        raise ServerlessConfigError(f"memorySize {memory} is outside Lambda's 128..10240 MB")
    return ResolvedFunction(function, stage, memory, timeout, architecture, str(value("runtime", "python3.12")))
