"""Deployed endpoints given as URLs; the remote Lambda forces cold starts the SeBS way (config bump, restored)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from twinserve.headers import parse_cold_flag

from twinbench.aws.snapstart_alias import SNAPSTART_ALIAS
from twinbench.targets.base import (
    ColdBatch,
    ColdSample,
    Sign,
    Target,
    _init_header_ms,
    timed_post,
)


class RemoteTarget(Target):
    """A deployed endpoint; nothing to start or stop."""

    mode = "remote"
    runtime = "remote"
    cold_supported = False

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.kind = name
        self.url = url.rstrip("/")
        self.notes = [f"remote endpoint {self.url}"]
        self.cold_unsupported_reason = (
            "forcing cold starts on a deployed endpoint needs the cloud-metrics collectors (collect-cloudwatch, collect-kubectl)"
        )

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "mode": self.mode, "runtime": self.runtime,
                "url": self.url, "notes": self.notes, "config": {}}



class RemoteLambdaTarget(RemoteTarget):
    """A deployed Lambda (HTTP API / Function URL); with its function name and region, forced cold starts.

    The cold starts are SeBS's: :class:`twinbench.aws.forced_cold.ForcedColdStarts` bumps an
    environment variable through ``UpdateFunctionConfiguration`` and waits for ``Successful``
    before each request; each sample is classified by the handler's ``x-twinserve-cold`` header
    (misclassified ones dropped and counted) and the original configuration is restored when the
    series ends — also after a failure or Ctrl-C. ``client_factory`` returns a boto3 ``lambda``
    client (default: ``boto3.client("lambda", region_name=region)``, which honours
    ``AWS_ENDPOINT_URL`` and the normal credential chain).
    """

    has_cold_batch = True

    def __init__(self, url: str, function_name: str | None = None, region: str | None = None,
                 client_factory: Callable[[], object] | None = None, sign: Sign | None = None,
                 name: str = "lambda", snapstart_alias: str | None = SNAPSTART_ALIAS,
                 snap_start: bool | None = None) -> None:
        """``name``: ``lambda`` (the native handler) or ``lambda-wsgi`` (the WSGI function; ``url`` is the
        base under which its ``/predict`` answers, e.g. ``<HTTP API>/wsgi``). ``snapstart_alias``: the
        alias checked for SnapStart (the deploy routes ``url`` through it); absent = ``$LATEST``.
        ``snap_start``: ``None`` reads it from the alias's version; True/False says it."""
        super().__init__(name, url)
        self.kind = "lambda"
        self.sign = sign
        if sign is not None:
            self.notes.append("requests signed with SigV4 (IAM-authenticated Function URL), as `twinserve predict --sigv4`")
        self.function_name = function_name or None
        self.region = region or None
        self.snapstart_alias = snapstart_alias
        self.snap_start = snap_start
        self._client_factory = client_factory
        if self.function_name and self.region:
            self.cold_supported = True
            self.cold_unsupported_reason = None
            self.notes.append(f"cold starts forced on {self.function_name} ({self.region}) through "
                              "UpdateFunctionConfiguration; the function's configuration is restored afterwards")
        else:
            self.cold_supported = False
            self.cold_unsupported_reason = (
                "forcing cold starts on the deployed Lambda needs its function name and region: set LAMBDA_FUNCTION "
                "and AWS_REGION (or --lambda-function / --aws-region); the caller needs "
                "lambda:GetFunctionConfiguration, lambda:UpdateFunctionConfiguration and lambda:GetAlias (with "
                "SnapStart also lambda:PublishVersion, lambda:UpdateAlias and lambda:DeleteFunction)")

    def describe(self) -> dict[str, object]:
        doc = super().describe()
        doc["config"] = {"function_name": self.function_name, "region": self.region, "sigv4": self.sign is not None,
                         "endpoint_url": os.environ.get("AWS_ENDPOINT_URL") or None}
        return doc

    def _client(self) -> object:
        if self._client_factory is not None:
            return self._client_factory()
        import boto3  # only for remote cold starts

        return boto3.client("lambda", region_name=self.region)

    def cold_batch(self, body: bytes, n: int, on_sample: Callable[[str], None],
                   cancel: threading.Event) -> ColdBatch:
        """``n`` forced cold starts; raises ``ColdStartError`` (permissions, unknown function) before any change."""
        from twinbench.aws.forced_cold import ForcedColdStarts, run_forced_cold_starts
        from twinbench.measure.stats import summarize

        statuses: list[int] = []

        def invoke() -> tuple[int, dict[str, str], float]:
            status, headers, ms = timed_post(self.url + "/predict", body, sign=self.sign)
            statuses.append(status)
            return status, headers, ms

        def is_cold(sample: tuple[int, dict[str, str], float]) -> bool | None:
            status, headers, _ = sample
            return parse_cold_flag(headers) if 200 <= status < 300 else None

        def progress(i: int, total: int) -> None:
            on_sample(f"{self.name} {i}/{total}: forced cold start (status {statuses[-1] if statuses else '?'})")
            if cancel.is_set():
                raise _Cancelled("cold-start series cancelled")

        assert self.function_name is not None
        with ForcedColdStarts(self._client(), self.function_name, alias=self.snapstart_alias,
                              snap_start=self.snap_start) as forcer:
            result = run_forced_cold_starts(forcer, n, invoke, is_cold, progress)
        method = "UpdateFunctionConfiguration env-var bump, then one request (SeBS)"
        if forcer.qualifier:
            method = (f"UpdateFunctionConfiguration env-var bump, PublishVersion, alias {forcer.qualifier} moved onto "
                      "it, then one request (a SnapStart restore); the alias put back and the versions deleted")
        failures = [s for s in statuses if not 200 <= s < 300]
        samples = [ColdSample(first_response_ms=ms, init_ms=_init_header_ms(headers), request_ms=ms,
                              verified_cold=True, status=status) for status, headers, ms in result.samples]
        return ColdBatch(
            samples=samples, misclassified=result.misclassified_count,
            unknown=max(0, result.unknown_count - len(failures)), failure_statuses=failures,
            extra={"method": method, "cold_kind": "restore" if forcer.qualifier else "init",
                   "published_versions": forcer.published_versions,
                   "function_name": self.function_name, "region": self.region,
                   "config_restored": forcer.restored,
                   "config_update_wait_ms": summarize([w * 1000.0 for w in result.update_wait_s]),
                   "init_source": "the handler's init header (the platform's Init or Restore Duration is in "
                                  "CloudWatch: make collect-cloudwatch)"})


class _Cancelled(Exception):
    """The bench was interrupted: stop the series (the ``with`` restores the configuration)."""
