"""Power-tuning a deployed function the way AWS Lambda Power Tuning does it, then putting it back.

For each memory size: ``UpdateFunctionConfiguration(MemorySize=...)`` and wait, forced cold
samples, then warm ones, every one ``Invoke(LogType=Tail)`` read through its ``REPORT`` line
(:func:`twinbench.aws.report_line.parse_report_message`). The function's original ``MemorySize``
and environment are restored when the run ends: after success, an error, Ctrl-C or SIGTERM.
``$LATEST`` is changed and changed back (with SnapStart, versions are published onto its alias
and deleted at the end): run it against a function no one else is calling.

Details (the steps, the permissions, Power Tuning's counterparts): docs/benchmark.md, 'Remote tuning (tune/remote.py)'.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from twinserve_support.process.signals import signals_held

from twinbench.aws.api_errors import error_code, user_fix
from twinbench.aws.report_line import LambdaReport, parse_report_message
from twinbench.aws.snapstart_alias import SNAPSTART_ALIAS
from twinbench.tune.errors import TuneInputError, TuneRunError
from twinbench.tune.observations import ColdObservation, CpuMeter, SizeRun
from twinbench.tune.profiles import TuneProfile

__all__ = ["GENERATOR", "FunctionMemory", "RemoteInvocation", "RemoteTuneConfig", "invoke_once", "run_remote"]

GENERATOR = "twinbench bench-tune: sequential boto3 Lambda Invoke (RequestResponse, LogType=Tail) from the tuner's process"


@dataclass(frozen=True)
class RemoteTuneConfig:
    """The deployed function and what to send it (``payloads``: invocation events, JSON bytes, sent
    round-robin: one per registered row of the model, or the ``--payload`` event alone)."""

    function_name: str
    payloads: Sequence[bytes]
    profile: TuneProfile
    memory_mb: tuple[int, ...]
    waiter_delay_s: int = 1
    waiter_max_attempts: int = 120
    snapstart_alias: str | None = SNAPSTART_ALIAS  # checked for SnapStart; absent alias = $LATEST as before
    snap_start: bool | None = None  # None: read from the alias's version


@dataclass(frozen=True, slots=True)
class RemoteInvocation:
    """One Invoke: the REPORT line from its log tail, the function's HTTP status and cold flag."""

    report: LambdaReport | None
    status: int
    cold_flag: bool | None
    function_error: str | None


def _as_tune_error(exc: Exception, action: str, function_name: str) -> Exception:
    """botocore's errors as the tuner's: what to fix, on one line."""
    fix = user_fix(exc, action, function_name)
    if fix is not None:
        return TuneInputError(fix)
    if type(exc).__name__ == "WaiterError":
        last = getattr(exc, "last_response", {}) or {}
        return TuneRunError(f"{function_name}: configuration update did not become Successful "
                            f"(LastUpdateStatus={last.get('LastUpdateStatus')!r}, "
                            f"reason={last.get('LastUpdateStatusReason')!r})")
    return TuneRunError(f"{action} on {function_name} failed: {type(exc).__name__}: {exc}")


class FunctionMemory:
    """Context manager: reads the function's configuration, sets memory sizes, restores the original.

    ``original_memory_mb`` / ``architecture`` are read on entry; :meth:`set` changes ``MemorySize``
    and waits for ``Successful``; leaving the block (however it is left) puts the original size back
    and waits for it, with signals held. ``restored`` says whether that happened.
    """

    def __init__(self, client: Any, function_name: str, *, delay_s: int = 1, max_attempts: int = 120) -> None:
        self._client = client
        self.function_name = function_name
        self.delay_s = delay_s
        self.max_attempts = max_attempts
        self.original_memory_mb: int | None = None
        self.architecture = "x86_64"
        self.current_memory_mb: int | None = None
        self.restored = False
        self.update_wait_s: list[float] = []

    def __enter__(self) -> FunctionMemory:
        try:
            conf = self._client.get_function_configuration(FunctionName=self.function_name)
        except Exception as exc:
            raise _as_tune_error(exc, "GetFunctionConfiguration", self.function_name) from exc
        self.original_memory_mb = int(conf["MemorySize"])
        self.current_memory_mb = self.original_memory_mb
        self.architecture = (conf.get("Architectures") or ["x86_64"])[0]
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def set(self, memory_mb: int) -> float:
        """Set ``MemorySize``, wait until the update is ``Successful``; the seconds it took."""
        started = time.perf_counter()
        self._update(memory_mb)
        waited = time.perf_counter() - started
        self.update_wait_s.append(waited)
        return waited

    def restore(self) -> None:
        """Put the original size back (idempotent); raises :class:`TuneRunError` saying what to do if that fails."""
        if self.original_memory_mb is None or self.current_memory_mb == self.original_memory_mb:
            self.restored = self.original_memory_mb is not None
            return
        with signals_held():
            try:
                self._update(self.original_memory_mb)
            except Exception as exc:
                raise TuneRunError(
                    f"{self.function_name} was NOT restored to {self.original_memory_mb} MB ({exc}); set it back with "
                    f"`aws lambda update-function-configuration --function-name {self.function_name} "
                    f"--memory-size {self.original_memory_mb}`") from exc
        self.restored = True

    def _update(self, memory_mb: int) -> None:
        for attempt in range(11):
            try:
                self._client.update_function_configuration(FunctionName=self.function_name, MemorySize=memory_mb)
                self.current_memory_mb = memory_mb
                break
            except Exception as exc:
                # An update still in progress (ours or someone's) refuses a new one: wait it out.
                if error_code(exc) == "ResourceConflictException" and attempt < 10:
                    self._wait()
                    continue
                raise _as_tune_error(exc, "UpdateFunctionConfiguration", self.function_name) from exc
        self._wait()

    def _wait(self) -> None:
        waiter = self._client.get_waiter("function_updated")
        try:
            waiter.wait(FunctionName=self.function_name,
                        WaiterConfig={"Delay": self.delay_s, "MaxAttempts": self.max_attempts})
        except Exception as exc:
            raise _as_tune_error(exc, "GetFunctionConfiguration", self.function_name) from exc


def _read_payload(response: dict[str, Any]) -> bytes:
    payload = response.get("Payload")
    if payload is None:
        return b""
    if hasattr(payload, "read"):
        return payload.read()
    return payload if isinstance(payload, bytes) else str(payload).encode()


def _http_answer(payload: bytes) -> tuple[int, bool | None]:
    """(HTTP status, the handler's cold flag) from an API Gateway proxy result; (200, None) if not one."""
    from twinserve.headers import COLD_HEADER

    try:
        doc = json.loads(payload or b"null")
    except ValueError:
        return 200, None
    if not isinstance(doc, dict) or "statusCode" not in doc:
        return 200, None
    try:
        status = int(doc["statusCode"])
    except (TypeError, ValueError):
        status = 0
    cold: bool | None = None
    for key, value in (doc.get("headers") or {}).items():
        if str(key).lower() == COLD_HEADER:
            v = str(value).strip().lower()
            cold = True if v == "true" else False if v == "false" else None
    return status, cold


def report_from_log_tail(log_result: str | None) -> LambdaReport | None:
    """The REPORT line (text or JSON ``platform.report``) in a base64 ``LogResult``; ``None`` if absent."""
    if not log_result:
        return None
    try:
        text = base64.b64decode(log_result).decode("utf-8", "replace")
    except ValueError:
        return None
    for line in reversed(text.splitlines()):
        report = parse_report_message(line)
        if report is not None:
            return report
    # With tracing, the REPORT line continues on the next line (XRAY ...): parse from REPORT on.
    index = text.rfind("REPORT ")
    return parse_report_message(text[index:]) if index >= 0 else None


def invoke_once(client: Any, function_name: str, payload: bytes, qualifier: str | None = None) -> RemoteInvocation:
    """One synchronous Invoke with ``LogType=Tail`` (through ``qualifier``, an alias, when given).
    Raises TuneInputError/TuneRunError for API errors."""
    extra = {"Qualifier": qualifier} if qualifier else {}
    try:
        response = client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                 LogType="Tail", Payload=payload, **extra)
    except Exception as exc:
        raise _as_tune_error(exc, "InvokeFunction", function_name) from exc
    body = _read_payload(response)
    status, cold = _http_answer(body)
    function_error = response.get("FunctionError")
    if function_error:
        status = 0
    return RemoteInvocation(report=report_from_log_tail(response.get("LogResult")), status=status, cold_flag=cold,
                      function_error=function_error)


def _measure_size(client: Any, config: RemoteTuneConfig, memory: FunctionMemory, forcer: Any, memory_mb: int,
                  progress: Callable[[str], None]) -> SizeRun:
    run = SizeRun(memory_mb=memory_mb)
    profile = config.profile
    started = time.perf_counter()
    waits = [memory.set(memory_mb)]
    peak = 0
    meter = CpuMeter(GENERATOR)
    payloads = itertools.cycle(config.payloads)  # every size gets the same sequence of rows
    qualifier = forcer.qualifier  # SnapStart: the alias, which serves only what was published
    with meter.phase("cold"):
        for i in range(profile.cold):
            if i or qualifier:  # with SnapStart the new memory size is served once published
                waits.append(forcer.force())
            inv = invoke_once(client, config.function_name, next(payloads), qualifier)
            if inv.report is None:
                raise TuneRunError(f"{config.function_name}: the Invoke response has no REPORT line in its LogResult "
                                   "(LogType=Tail); cannot read Billed or Init Duration")
            peak = max(peak, inv.report.max_memory_used_mb)
            if not 200 <= inv.status < 300:
                run.fail(inv.function_error or inv.status)
            # A SnapStart environment restores (Restore Duration) instead of initialising.
            if inv.cold_flag is False or inv.report.cold_kind != ("restore" if qualifier else "init"):
                run.misclassified_cold += 1
                continue
            run.cold.append(ColdObservation(request_id=inv.report.request_id, status=inv.status,
                                            init_duration_ms=inv.report.init_duration_ms,
                                            duration_ms=inv.report.duration_ms,
                                            billed_duration_ms=inv.report.billed_duration_ms,
                                            verified_cold=inv.cold_flag,
                                            restore_duration_ms=inv.report.restore_duration_ms))
            progress(f"{memory_mb} MB: cold {i + 1}/{profile.cold}")
    with meter.phase("warm"):
        for i in range(profile.warmup + profile.warm):
            inv = invoke_once(client, config.function_name, next(payloads), qualifier)
            if i < profile.warmup:
                continue
            if not 200 <= inv.status < 300:
                run.fail(inv.function_error or inv.status)
                continue
            if inv.report is None:
                run.missing_reports += 1
                continue
            peak = max(peak, inv.report.max_memory_used_mb)
            if inv.report.cold_start:
                run.unexpected_cold += 1
                continue
            run.warm_billed_ms.append(inv.report.billed_duration_ms)
            run.warm_duration_ms.append(inv.report.duration_ms)
        progress(f"{memory_mb} MB: warm {profile.warm}/{profile.warm}")
    run.warmup_discarded = profile.warmup
    run.cpu = meter.result
    run.max_memory_used_mb = peak or None
    run.cpu_quota = {"source": "AWS (memory / 1769 vCPU on the provider's hardware)",
                     "config_update_wait_s": [round(w, 3) for w in waits]}
    run.wall_s = round(time.perf_counter() - started, 3)
    return run


def run_remote(client: Any, config: RemoteTuneConfig, into: list[SizeRun], facts: dict[str, object],
               progress: Callable[[str], None] = lambda s: None) -> None:
    """Tune the deployed function over every size, appending each :class:`SizeRun` to ``into``.

    ``facts`` receives the function's original memory, its architecture and whether it was
    restored — filled even when the run ends early. The original configuration is restored before
    this returns or raises (also on ``KeyboardInterrupt``); raises :class:`TuneInputError` /
    :class:`TuneRunError`.
    """
    from twinbench.aws.forced_cold import ColdStartError, ForcedColdStarts

    memory = FunctionMemory(client, config.function_name, delay_s=config.waiter_delay_s,
                            max_attempts=config.waiter_max_attempts)
    facts.update(function_name=config.function_name, restored=False)
    try:
        with memory:
            facts.update(original_memory_mb=memory.original_memory_mb, architecture=memory.architecture)
            try:
                with ForcedColdStarts(client, config.function_name, delay_s=config.waiter_delay_s,
                                      max_attempts=config.waiter_max_attempts, alias=config.snapstart_alias,
                                      snap_start=config.snap_start) as forcer:
                    for memory_mb in config.memory_mb:
                        into.append(_measure_size(client, config, memory, forcer, memory_mb, progress))
                facts["environment_restored"] = forcer.restored
                if forcer.qualifier:
                    facts.update(snapstart_alias=forcer.qualifier, cold_kind="restore",
                                 published_versions=forcer.published_versions)
            except ColdStartError as exc:
                raise TuneInputError(str(exc)) from exc
    finally:
        facts["restored"] = memory.restored
