"""Forced cold starts on a real Lambda function, the SeBS way, with the configuration always restored.

Why this way: the only documented way to make the next invocation start a new execution
environment is to change the function's configuration. :class:`ForcedColdStarts` sets a fresh
``TWINBENCH_COLD_NONCE`` and waits for ``LastUpdateStatus == Successful``; the original variables
come back when the ``with`` block ends (success, exception, Ctrl-C or SIGTERM). Samples the
handler's own cold flag calls warm are dropped and counted, never kept.

With SnapStart the alias serves published versions, so each force also publishes a version and
moves the alias onto it (:mod:`twinbench.aws.snapstart_alias`); callers invoke with
``Qualifier=forcer.qualifier`` and the new environment is a restore (REPORT ``Restore Duration``).
The alias goes back and the published versions are deleted when the block ends.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Generic, TypeVar

from twinserve.headers import COLD_HEADER
from twinserve_support.process.signals import signals_held

from twinbench.aws.api_errors import error_code, user_fix
from twinbench.aws.snapstart_alias import SnapStartAlias, SnapStartAliasError, serves_snapstart

NONCE_ENV_VAR = "TWINBENCH_COLD_NONCE"

T = TypeVar("T")


class ColdStartError(Exception):
    """The configuration could not be changed or restored; ``str()`` says what to do."""

    exit_code = 2


@dataclass
class ColdRunResult(Generic[T]):
    """Outcome of :func:`run_forced_cold_starts`.

    ``samples`` holds only the ones the handler confirmed cold; ``misclassified_count`` counts
    samples after a forced update that the handler reported warm; ``unknown_count`` those without
    a cold flag at all (e.g. an error response); ``update_wait_s`` the seconds each config update
    took to become ``Successful``.
    """

    samples: list[T] = field(default_factory=list)
    misclassified_count: int = 0
    unknown_count: int = 0
    update_wait_s: list[float] = field(default_factory=list)


@dataclass(eq=False)
class ForcedColdStarts:
    """Context manager that bumps an environment variable to force cold starts and restores it.

    ``delay_s`` / ``max_attempts`` tune the ``function_updated`` waiter (AWS default 5 s x 60).
    Raises :class:`ColdStartError` when the function cannot be read or updated (permissions:
    ``lambda:GetFunctionConfiguration`` and ``lambda:UpdateFunctionConfiguration``).
    """

    lambda_client: Any
    function_name: str
    _: KW_ONLY
    env_var: str = NONCE_ENV_VAR
    delay_s: int = 1
    max_attempts: int = 120
    conflict_retries: int = 10
    alias: str | None = None  # the alias to check for SnapStart; an absent alias means no SnapStart
    snap_start: bool | None = None  # None: read it from the version the alias points to
    original_variables: dict[str, str] | None = field(default=None, init=False)
    restored: bool = field(default=False, init=False)
    _previous_sigterm: Any = field(default=None, init=False, repr=False)
    _forced: int = field(default=0, init=False, repr=False)
    _dirty: bool = field(default=False, init=False, repr=False)  # an update of ours was accepted and not yet undone
    _snapstart: SnapStartAlias | None = field(default=None, init=False, repr=False)

    @property
    def qualifier(self) -> str | None:
        """What to invoke with (``Qualifier``): the alias when it serves SnapStart, else ``None`` ($LATEST)."""
        return self._snapstart.alias if self._snapstart is not None else None

    @property
    def published_versions(self) -> list[str]:
        """Versions published to force restores (each deleted again once the alias left it)."""
        return list(self._snapstart.published) if self._snapstart is not None else []

    # -- context manager ---------------------------------------------------------------------

    def __enter__(self) -> ForcedColdStarts:
        conf = self._call("GetFunctionConfiguration", self.lambda_client.get_function_configuration,
                          FunctionName=self.function_name)
        self.original_variables = dict((conf.get("Environment") or {}).get("Variables") or {})
        self._snapstart = self._snapstart_alias()
        self._install_sigterm_handler()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.restore()
        finally:
            self._remove_sigterm_handler()

    # -- operations --------------------------------------------------------------------------

    def force(self) -> float:
        """Set a fresh nonce, wait for ``LastUpdateStatus == Successful`` (with SnapStart: publish it
        and move the alias onto it); return the seconds it took."""
        if self.original_variables is None:
            raise ColdStartError("use ForcedColdStarts as a context manager (with ...)")
        self._forced += 1
        self.restored = False
        nonce = f"{self._forced}-{uuid.uuid4().hex[:12]}"
        started = time.perf_counter()
        self._update({**self.original_variables, self.env_var: nonce})
        if self._snapstart is not None:
            try:
                self._snapstart.publish_and_point()
            except SnapStartAliasError as exc:
                raise ColdStartError(str(exc)) from exc
        return time.perf_counter() - started

    def restore(self) -> None:
        """Put the alias (SnapStart) and the environment variables back, deleting the versions
        published here (idempotent), and wait until it is applied."""
        if self.original_variables is None or not self._dirty:
            self.restored = True
            return
        # Ctrl-C during the restore itself must not leave the function modified.
        with signals_held():
            try:
                if self._snapstart is not None:
                    self._snapstart.restore()
            finally:
                self._update(dict(self.original_variables))
        self._dirty = False
        self.restored = True

    def _snapstart_alias(self) -> SnapStartAlias | None:
        if self.alias is None:
            if self.snap_start:
                raise ColdStartError(f"{self.function_name}: forcing SnapStart restores needs the alias it is served "
                                     "through (the serverless.yml deploy names it `snapstart`)")
            return None
        alias = SnapStartAlias(self.lambda_client, self.function_name, self.alias, self._call,
                               delay_s=self.delay_s, max_attempts=self.max_attempts)
        try:
            version = alias.read(missing_ok=self.snap_start is None)
        except ColdStartError as exc:
            # Detecting SnapStart needs lambda:GetAlias; without it a function not said to use
            # SnapStart is forced through $LATEST as before, and the run says why.
            if self.snap_start is not None or error_code(exc.__cause__) != "AccessDeniedException":
                raise
            print(f"forced cold starts: cannot read alias {self.alias!r} ({exc}); forcing $LATEST "
                  "(pass snap_start=True to force restores)", file=sys.stderr)
            return None
        if version is None:
            return None
        on = self.snap_start
        if on is None:
            on = serves_snapstart(self._call, self.lambda_client, self.function_name, version)
        return alias if on else None

    def _update(self, variables: dict[str, str]) -> float:
        started = time.perf_counter()
        for attempt in range(self.conflict_retries + 1):
            try:
                self.lambda_client.update_function_configuration(
                    FunctionName=self.function_name, Environment={"Variables": variables}
                )
                self._dirty = True
                break
            except Exception as exc:
                # An update still in progress (ours or someone's) refuses a new one: wait it out.
                if error_code(exc) == "ResourceConflictException" and attempt < self.conflict_retries:
                    self._wait()
                    continue
                raise _map(exc, "UpdateFunctionConfiguration", self.function_name) from exc
        self._wait()
        return time.perf_counter() - started

    def _wait(self) -> None:
        waiter = self.lambda_client.get_waiter("function_updated")
        try:
            waiter.wait(
                FunctionName=self.function_name,
                WaiterConfig={"Delay": self.delay_s, "MaxAttempts": self.max_attempts},
            )
        except Exception as exc:
            if type(exc).__name__ == "WaiterError":
                last = getattr(exc, "last_response", {}) or {}
                raise ColdStartError(
                    f"{self.function_name}: configuration update did not become Successful "
                    f"(LastUpdateStatus={last.get('LastUpdateStatus')!r}, "
                    f"reason={last.get('LastUpdateStatusReason')!r})"
                ) from exc
            raise _map(exc, "GetFunctionConfiguration", self.function_name) from exc

    def _call(self, action: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except Exception as exc:
            raise _map(exc, action, self.function_name) from exc

    # -- signals -----------------------------------------------------------------------------

    def _install_sigterm_handler(self) -> None:
        # SIGINT already raises KeyboardInterrupt (so __exit__ restores); SIGTERM would kill the
        # process without unwinding, so turn it into an exception too. Only the main thread can.
        if threading.current_thread() is not threading.main_thread():
            return

        def on_sigterm(signum: int, frame: object) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        self._previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)

    def _remove_sigterm_handler(self) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None


def run_forced_cold_starts(
    forcer: ForcedColdStarts,
    count: int,
    invoke: Callable[[], T],
    is_cold: Callable[[T], bool | None],
    progress: Callable[[int, int], None] | None = None,
) -> ColdRunResult[T]:
    """Force ``count`` cold starts with ``forcer`` (already entered), invoking once after each.

    ``is_cold(sample)`` returns the handler's own verdict (True/False) or None when unknown.
    Only confirmed-cold samples are kept.
    """
    result: ColdRunResult[T] = ColdRunResult()
    for i in range(count):
        result.update_wait_s.append(forcer.force())
        sample = invoke()
        verdict = is_cold(sample)
        if verdict is True:
            result.samples.append(sample)
        elif verdict is False:
            result.misclassified_count += 1
        else:
            result.unknown_count += 1
        if progress:
            progress(i + 1, count)
    return result


def _map(exc: Exception, action: str, function_name: str) -> Exception:
    fix = user_fix(exc, action, function_name)
    return ColdStartError(fix) if fix is not None else exc




def cold_from_headers(headers: Any) -> bool | None:
    """The handler's verdict from its ``x-twinserve-cold`` response header (any header casing).

    True / False when the header says ``true`` / ``false``; None when it is absent or garbled.
    """
    items = headers.items() if hasattr(headers, "items") else headers
    for key, value in items:
        if str(key).lower() == COLD_HEADER:
            v = str(value).strip().lower()
            return True if v == "true" else False if v == "false" else None
    return None
