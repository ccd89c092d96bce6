"""Typed result documents: the run envelope and each kind's top-level payload, as dataclasses.

A document on disk is one flat JSON object::

    {"format": "twinbench.<kind>", "version": N,          # formats.py: one constant per kind
     "created": "2026-01-01T00:00:00+00:00",               # ISO 8601 UTC, when the run (or collection) began
     "interrupted": false,                                 # SIGTERM/SIGINT cut the run short: partial data
     "environment": {...},                                 # machine and software, collected once
     ...the kind's payload keys...}

:class:`RunDocument` is that envelope around a :class:`Payload` subclass whose fields are the
kind's top-level keys (their contents stay plain JSON values: sections are built by the
measuring code and described by the schemas). Writers build the dict only through
``RunDocument.to_dict()``; readers get one back with :meth:`RunDocument.from_dict`, which also
reads the version-1 envelopes written before this convention (FORMATS.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from twinbench.results import formats
from twinbench.results.formats import Format, UnknownFormat

__all__ = [
    "BenchResults", "CloudwatchResults", "DocumentError", "FuzzResults", "KubectlResults", "Payload",
    "PeersResults", "RunDocument", "SoakResults", "utc_now",
]

ENVELOPE_KEYS = ("format", "version", "created", "interrupted", "environment")


class DocumentError(ValueError):
    """A mapping is not a document of the expected kind: unknown format, missing or unexpected keys."""


def utc_now() -> str:
    """Now, ISO 8601 UTC to the second: the ``created`` stamp."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _key(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


@dataclass
class Payload:
    """The top-level keys of one document kind besides the envelope; subclasses set ``FORMAT``."""

    FORMAT: ClassVar[Format]

    def to_dict(self) -> dict[str, Any]:
        return {_key(f): getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Payload:
        """Raises :class:`DocumentError` on a missing required key or a key the kind does not have."""
        by_key = {_key(f): f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(by_key))
        if unknown:
            raise DocumentError(f"{cls.FORMAT.name}: unexpected top-level keys {unknown}")
        missing = [k for k, f in by_key.items() if k not in data
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise DocumentError(f"{cls.FORMAT.name}: missing top-level keys {missing}")
        return cls(**{f.name: data[k] for k, f in by_key.items() if k in data})


P = TypeVar("P", bound=Payload)


@dataclass
class BenchResults(Payload):
    """``twinbench bench``: settings and status (``run``), targets, per-scenario results, REPORT lines, cost."""

    FORMAT: ClassVar[Format] = formats.RESULTS
    run: dict[str, Any]
    targets: dict[str, Any] = field(default_factory=dict)
    scenarios: dict[str, Any] = field(default_factory=dict)
    lambda_reports: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] | None = None
    simulation: dict[str, Any] | None = None
    """The simulation at your traffic (optional; FORMATS.md: additive, no version bump)."""
    warnings: list[str] = field(default_factory=list)


@dataclass
class PeersResults(Payload):
    """``twinbench bench-peers``: per-model server records and verdicts, the Lambda part, warnings."""

    FORMAT: ClassVar[Format] = formats.PEERS
    run: dict[str, Any]
    models: dict[str, Any] = field(default_factory=dict)
    lambda_: dict[str, Any] | None = field(default=None, metadata={"key": "lambda"})
    warnings: list[str] = field(default_factory=list)


@dataclass
class SoakResults(Payload):
    """``twinbench soak``: one record per target soaked (those finished, when interrupted)."""

    FORMAT: ClassVar[Format] = formats.SOAK
    settings: dict[str, Any]
    targets: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = False
    wall_s: float = 0.0
    path: str = ""


@dataclass
class FuzzResults(Payload):
    """``twinbench fuzz``: one report per wrapper fuzzed (those finished, when interrupted)."""

    FORMAT: ClassVar[Format] = formats.FUZZ
    settings: dict[str, Any]
    wrappers: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = False
    duration_s: float = 0.0


@dataclass
class CloudwatchResults(Payload):
    """``twinbench collect-cloudwatch``: metrics, REPORT lines and their cost for one function and window."""

    FORMAT: ClassVar[Format] = formats.CLOUDWATCH
    target: dict[str, Any]
    window: dict[str, Any]
    lambda_metrics: dict[str, Any]
    api_metrics: dict[str, Any] | None
    reports: dict[str, Any]
    cost: dict[str, Any]
    emf_metrics: dict[str, Any] | None = None
    """The handler's EMF metrics per route (optional; FORMATS.md: additive, no version bump)."""
    warnings: list[str] = field(default_factory=list)


@dataclass
class KubectlResults(Payload):
    """``twinbench collect-kubectl``: pods and their start phases, top, HPAs, events, the watch timeline."""

    FORMAT: ClassVar[Format] = formats.KUBECTL
    target: dict[str, Any]
    pods: list[dict[str, Any]]
    pods_summary: dict[str, Any]
    top: dict[str, Any]
    hpas: list[dict[str, Any]]
    pod_events: list[dict[str, Any]]
    timeline: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class ChaosResults(Payload):
    """``twinbench chaos``: one record per fault injected (those finished, when interrupted)."""

    FORMAT: ClassVar[Format] = formats.CHAOS
    settings: dict[str, Any]
    targets: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    leftovers: dict[str, Any] = field(default_factory=dict)
    ok: bool = False
    wall_s: float = 0.0
    path: str = ""


@dataclass
class TuneResults(Payload):
    """``twinbench bench-tune``: one record per memory size, the picks, who measured what."""

    FORMAT: ClassVar[Format] = formats.TUNE
    run: dict[str, Any]
    sizes: list[dict[str, Any]] = field(default_factory=list)
    picks: dict[str, Any] | None = None
    pricing: dict[str, Any] = field(default_factory=dict)
    generators: list[dict[str, Any]] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


PAYLOADS: dict[Format, type[Payload]] = {
    cls.FORMAT: cls for cls in (BenchResults, PeersResults, SoakResults, FuzzResults, ChaosResults, TuneResults,
                                CloudwatchResults, KubectlResults)
}


@dataclass
class RunDocument(Generic[P]):
    """One run's (or one collection's) document: the envelope plus its kind's payload."""

    payload: P
    created: str = field(default_factory=utc_now)
    environment: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    version: int = 0
    """0 = the kind's current version (what writers always write); older only when read back."""

    def __post_init__(self) -> None:
        if not self.version:
            self.version = self.format.version

    @property
    def format(self) -> Format:
        return self.payload.FORMAT

    def to_dict(self) -> dict[str, Any]:
        body = self.payload.to_dict()
        clash = sorted(set(body) & set(ENVELOPE_KEYS))
        if clash:  # a payload key would silently overwrite the envelope
            raise DocumentError(f"{self.format.name}: payload keys {clash} belong to the envelope")
        return {"format": self.format.name, "version": self.version, "created": self.created,
                "interrupted": self.interrupted, "environment": self.environment, **body}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], expected: Format | None = None) -> RunDocument:
        """Read a document of any run kind (today's envelope or version 1's); check its kind.

        Raises :class:`DocumentError` (unknown or unexpected format, missing or extra keys).
        """
        try:
            fmt, version = formats.identify(data)
        except UnknownFormat as exc:
            raise DocumentError(str(exc)) from None
        if expected is not None and fmt != expected:
            raise DocumentError(f"expected a {expected.name} document, got {fmt.name}")
        payload_cls = PAYLOADS.get(fmt)
        if payload_cls is None:
            raise DocumentError(f"{fmt.name} is not a run document")
        rest = dict(data)
        if version == 1:
            created, interrupted = _legacy_envelope(fmt, rest)
        else:
            created, interrupted = rest.pop("created", ""), bool(rest.pop("interrupted", False))
            rest.pop("format", None)
            rest.pop("version", None)
        environment = rest.pop("environment", None) or {}
        return cls(payload_cls.from_dict(rest), created=str(created), environment=dict(environment),
                   interrupted=interrupted, version=version)


def _legacy_envelope(fmt: Format, rest: dict[str, Any]) -> tuple[str, bool]:
    """Strip a version-1 envelope from ``rest``; return its ``(created, interrupted)``."""
    for key in formats.LEGACY_KEYS:
        rest.pop(key, None)
    created = rest.pop("collected_at", None) or rest.pop("started_utc", None)
    run = rest.get("run") if isinstance(rest.get("run"), dict) else {}
    created = created or run.get("started_at") or ""
    return created, run.get("status") == "interrupted"
