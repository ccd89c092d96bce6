"""One tuning run end to end: measure (local or remote), write ``tune.json``, the figure and ``report.md``.

Everything runs inside a :class:`twinbench.results.run_folder.RunFolder` (``<out>/tune-<UTC ts>/``):
SIGTERM becomes ``KeyboardInterrupt`` like Ctrl-C, so the emulator is stopped or the deployed
function restored, and the sizes finished so far are written with ``"interrupted": true`` before
the interrupt goes on to the CLI (exit 130).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinserve_support.paths import REPO

from twinbench.results import formats
from twinbench.results.envinfo import load_average
from twinbench.tune.document import TuneSettings, build_payload
from twinbench.tune.errors import TuneInputError, TuneRunError
from twinbench.tune.observations import SizeRun
from twinbench.tune.profiles import TuneProfile

__all__ = ["REPORT_NAME", "TuneRequest", "run_tune"]

REPORT_NAME = "report.md"
DEFAULT_RESULTS = REPO / "results"
BUSY_LOAD_PER_CORE = 0.5  # the bench's own threshold for "the machine was busy"


@dataclass(frozen=True)
class TuneRequest:
    """A run as the CLI asked for it. ``function_name`` set = remote mode."""

    profile: TuneProfile
    memory_mb: tuple[int, ...]
    rps: float
    balanced_weight: float
    discard_top_bottom: float
    keep_alive_s: float = 300.0
    gap_ms: float = 0.0
    architecture: str | None = None
    package_dir: Path = REPO / "build" / "lambda" / "pkg"
    function_name: str | None = None
    region: str | None = None
    payload_file: Path | None = None
    out_root: Path = DEFAULT_RESULTS
    validate: bool = False
    client_factory: Callable[[], Any] | None = None

    @property
    def mode(self) -> str:
        return "remote" if self.function_name else "local"


def _model_dir() -> Path:
    return Path(os.environ.get("MODEL_PATH") or REPO / "model")


def _model_bodies() -> list[bytes]:
    """The registered rows as ``POST /predict`` bodies, sent round-robin (as bench, soak and chaos
    send them), so each size is measured on the model's own inputs rather than on one row."""
    from twinbench.targets.base import request_body, request_payloads

    model_dir = _model_dir()
    try:
        return request_payloads(model_dir) or [request_body(model_dir)]
    except FileNotFoundError as exc:
        raise TuneInputError(str(exc)) from None


def _payload_source(count: int) -> str:
    """Where the requests came from, recorded in the document's target (and so in ``report.md``)."""
    return f"{count} registered row{'s' if count != 1 else ''} of {_model_dir()}, round-robin"


def _remote_payloads(request: TuneRequest) -> tuple[list[bytes], str]:
    """The invocation events and where they came from: ``--payload`` as given, else the committed
    HTTP API event around each registered row."""
    if request.payload_file is not None:
        try:
            text = request.payload_file.read_text(encoding="utf-8")
            json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise TuneInputError(f"--payload {request.payload_file}: not a readable JSON event ({exc})") from None
        return [text.encode()], f"--payload {request.payload_file}"
    from twinserve_support.sample_events import event_for

    bodies = _model_bodies()
    events = [json.dumps(event_for("http_api_v2.json", "POST", "/predict", body)).encode() for body in bodies]
    return events, _payload_source(len(bodies))


def _local_architecture(request: TuneRequest) -> str:
    if request.architecture:
        return request.architecture
    from twinserve_support.serverless_config import ServerlessConfigError

    from twinbench.local_lambda.settings import deployed_function

    try:
        return deployed_function().architecture
    except (ServerlessConfigError, OSError, ValueError):
        return "x86_64"


def _check_local(request: TuneRequest) -> None:
    from twinbench.local_lambda.settings import DEFAULT_PYTHON

    if not (request.package_dir / "handler.py").exists():
        raise TuneInputError(f"no Lambda package at {request.package_dir}: run `make package-lambda`")
    if not DEFAULT_PYTHON.exists():
        raise TuneInputError(f"no Lambda runtime at {DEFAULT_PYTHON}: run `make lambda-runtime`")


def _client(request: TuneRequest) -> Any:
    if request.client_factory is not None:
        return request.client_factory()
    try:
        import boto3
    except ImportError as exc:
        raise TuneInputError("remote mode needs boto3 (pip install -e '.[client]')") from exc
    if not request.region:
        raise TuneInputError("remote mode needs the function's region: --aws-region (AWS_REGION=)")
    return boto3.client("lambda", region_name=request.region)


def _busy(environment: dict[str, Any], load_end: list[float]) -> list[str]:
    """Warnings for a machine busy before or after the run: other work competed with the sizes for CPU."""
    from twinbench.tune.cpu_share import machine_cores

    cores = machine_cores()
    warnings = []
    for when, load in (("before", environment.get("load_average_1_5_15")), ("after", load_end)):
        if load and load[0] > BUSY_LOAD_PER_CORE * cores:
            warnings.append(f"machine busy {when} the run (1-min load average {load[0]:.2f} on {cores} cores): "
                            "the sizes competed with other work for CPU; rerun on a quiet machine to compare them")
    return warnings


def run_tune(request: TuneRequest, progress: Callable[[str], None] = lambda s: None) -> tuple[dict[str, Any], Path]:
    """Run, write, render; returns ``(document, folder)``.

    Raises :class:`TuneInputError` (exit 2) before anything starts for bad input,
    :class:`TuneRunError` (exit 1) when the measurement fails, ``KeyboardInterrupt`` after writing
    the partial document when interrupted.
    """
    from twinbench.results.lifecycle import RunLifecycle
    from twinbench.results.run_folder import RunFolder

    if request.mode == "local":
        _check_local(request)
        bodies = _model_bodies()
        architecture = _local_architecture(request)
        target: dict[str, Any] = {"kind": "local Lambda emulator (awslambdaric per environment)",
                                  "package_dir": str(request.package_dir), "payloads": _payload_source(len(bodies))}
        from twinbench.tune.local import GENERATOR
    else:
        payloads, source = _remote_payloads(request)
        client = _client(request)
        architecture = request.architecture or "x86_64"  # replaced by the function's own below
        target = {"kind": "deployed Lambda function", "function_name": request.function_name,
                  "region": request.region, "payloads": source}
        from twinbench.tune.remote import GENERATOR

    runs: list[SizeRun] = []
    facts: dict[str, object] = {}
    extra_warnings: list[str] = []
    folder = RunFolder(formats.TUNE, root=request.out_root, prefix="tune", logs=request.mode == "local")
    with folder:
        started = time.perf_counter()

        def write(status: str) -> dict[str, Any]:
            arch = str(facts.get("architecture") or architecture)
            settings = TuneSettings(mode=request.mode, profile=request.profile.to_dict(), memory_mb=request.memory_mb,
                                    rps=request.rps, balanced_weight=request.balanced_weight,
                                    discard_top_bottom=request.discard_top_bottom, architecture=arch,
                                    keep_alive_s=request.keep_alive_s, gap_ms=request.gap_ms, target={**target, **facts})
            if request.mode == "remote" and facts.get("restored") is False and facts.get("original_memory_mb"):
                extra_warnings.append(f"{request.function_name} may NOT have been restored to "
                                      f"{facts['original_memory_mb']} MB: check it")
            load_end = load_average()
            payload_doc = build_payload(runs, settings, generator=GENERATOR, wall_s=time.perf_counter() - started,
                                        status=status, extra_warnings=[*extra_warnings, *_busy(folder.environment, load_end)])
            payload_doc.run["load_average_end"] = load_end
            from twinbench.tune.plots import duration_and_cost

            figure = duration_and_cost(folder.document(payload_doc).to_dict(), folder.path)
            if figure:
                payload_doc.figures = {"duration_cost_vs_memory": figure}
            document = folder.document(payload_doc)
            folder.write(document, indent=2)
            data = document.to_dict()
            from twinbench.tune.report import render_markdown

            (folder.path / REPORT_NAME).write_text(render_markdown(data), encoding="utf-8")
            return data

        # the tune document says "complete" where the lifecycle says "ok"
        lifecycle = RunLifecycle(folder, note=progress,
                                 save=lambda: write({"ok": "complete"}.get(lifecycle.status, lifecycle.status)))
        with lifecycle:
            try:
                if request.mode == "local":
                    from twinbench.tune.local import LocalTuneConfig, run_local

                    run_local(LocalTuneConfig(package_dir=request.package_dir, bodies=tuple(bodies), profile=request.profile,
                                              memory_mb=request.memory_mb, gap_ms=request.gap_ms, log_dir=folder.logs),
                              runs, progress)
                else:
                    from twinbench.tune.remote import RemoteTuneConfig, run_remote

                    assert request.function_name is not None
                    run_remote(client, RemoteTuneConfig(function_name=request.function_name, payloads=tuple(payloads),
                                                        profile=request.profile, memory_mb=request.memory_mb),
                               runs, facts, progress)
            except TuneRunError as exc:
                if runs:  # what finished is still data
                    extra_warnings.append(f"run stopped early: {exc}")
                    write("failed")
                raise
        document = lifecycle.saved
    if request.validate:
        from twinbench.results.document import ResultsError, validate

        try:
            validate(document, expected=formats.TUNE)
        except ResultsError as exc:
            raise TuneRunError(str(exc)) from exc
    return document, folder.path
