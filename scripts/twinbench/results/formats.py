"""Every result-document kind twinbench writes, with its current version: the one place to bump it.

One convention for all of them (as pyperf keeps one ``version`` for its JSON): the top level of a
document starts with ``"format": "twinbench.<kind>"`` and ``"version": <int>``. The version is a
single integer, bumped whenever a key is added, removed or changes meaning; the history of each
kind is written in ``FORMATS.md`` beside this module, and each kind's JSON Schema is
``schemas/<kind>.schema.json`` (its ``version`` is a ``const`` that a test compares with the
constant here).

This module imports only the standard library: the cost model, the collectors and the fuzz hooks
(which run inside another venv) import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ALL", "CHAOS", "CLOUDWATCH", "COST", "FUZZ", "KUBECTL", "PEERS", "RECOMMENDATION", "RESULTS", "SIMULATION",
    "SOAK", "TUNE",
    "Format", "UnknownFormat", "by_name", "identify",
]

SCHEMAS = Path(__file__).parent / "schemas"
PREFIX = "twinbench."


class UnknownFormat(ValueError):
    """A document names no format this twinbench knows, or a version newer than it reads."""


@dataclass(frozen=True)
class Format:
    """One document kind: its name in ``format``, its current ``version`` and its schema file."""

    kind: str
    version: int
    file_name: str
    """The file a run folder holds it in (``results.json``, ``soak.json``...); collectors choose their own."""
    schema_path: Path | None = None
    """Defaults to ``schemas/<kind>.schema.json``."""

    @property
    def name(self) -> str:
        return PREFIX + self.kind

    @property
    def schema(self) -> Path:
        return self.schema_path or SCHEMAS / f"{self.kind}.schema.json"

    def header(self) -> dict[str, Any]:
        """The two keys every document of this kind starts with."""
        return {"format": self.name, "version": self.version}


RESULTS = Format("results", 2, "results.json")
"""``twinbench bench``: results/<ts>/results.json."""
PEERS = Format("peers", 2, "results.json")
"""``twinbench bench-peers``: results/peers-<ts>/results.json."""
SOAK = Format("soak", 2, "soak.json")
"""``twinbench soak``: results/soak-<ts>/soak.json."""
FUZZ = Format("fuzz", 2, "fuzz.json")
"""``twinbench fuzz``: results/fuzz-<ts>/fuzz.json."""
CHAOS = Format("chaos", 1, "chaos.json")
"""``twinbench chaos``: results/chaos-<ts>/chaos.json."""
CLOUDWATCH = Format("cloudwatch", 2, "cloudwatch.json")
"""``twinbench collect-cloudwatch``: what AWS measured; dropped into a results folder for the report."""
KUBECTL = Format("kubectl", 2, "kubectl.json")
"""``twinbench collect-kubectl``: what Kubernetes recorded; dropped into a results folder for the report."""
COST = Format("cost", 2, "cost.json")
"""``twinbench cost --json`` and ``results.json``'s ``cost.comparison``: a computed comparison, not a run."""
SIMULATION = Format("simulation", 2, "simulation.json",
                    schema_path=Path(__file__).parents[1] / "simulate" / "schema.json")
"""``twinbench simulate --json``: written by :mod:`twinbench.simulate`, which keeps its schema beside its code."""
TUNE = Format("tune", 1, "tune.json")
"""``twinbench bench-tune``: results/tune-<ts>/tune.json, memory power-tuning (per size, picks, generators)."""

LAMBDA_OVERHEAD = Format("lambda-overhead", 2, "overhead.json")
"""``twinbench serve-lambda --overhead --json``: the local Lambda's own warm overhead (through it vs in-process)."""
PACKAGE_SIZE = Format("package-size", 2, "package-size.json")
"""``make package-lambda``: build/lambda/package-size.json, the shipped package's size (the report cites it)."""
RECOMMENDATION = Format("recommendation", 1, "recommendation.json")
"""``twinbench recommend --out``: the cheapest configuration meeting an SLO per platform, by simulation."""

ALL: tuple[Format, ...] = (RESULTS, PEERS, SOAK, FUZZ, CHAOS, CLOUDWATCH, KUBECTL, COST, SIMULATION, TUNE,
                           LAMBDA_OVERHEAD, PACKAGE_SIZE, RECOMMENDATION)
_BY_NAME = {f.name: f for f in ALL}

# Before this convention each kind marked its version its own way (FORMATS.md, "version 1").
_LEGACY_SCHEMA = {"twinbench.peers/1": PEERS, "twinbench.cloudwatch/1": CLOUDWATCH, "twinbench.kubectl/1": KUBECTL}
_LEGACY_KIND = {"twinbench-soak": SOAK, "twinbench-fuzz": FUZZ}
LEGACY_KEYS = ("schema", "schema_version", "kind")
"""Top-level keys of version-1 envelopes; a reader drops them with the envelope."""


def by_name(name: str) -> Format:
    """The format called ``name`` (``"twinbench.results"``); raises :class:`UnknownFormat`."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownFormat(f"unknown document format {name!r}; known: {', '.join(sorted(_BY_NAME))}") from None


def identify(document: Mapping[str, Any]) -> tuple[Format, int]:
    """``(format, version)`` of a parsed document, in today's convention or the version-1 ones.

    Raises :class:`UnknownFormat` for a document of no known kind or of a version newer than
    this twinbench reads (an older reader must not misread a newer document).
    """
    if "format" in document:
        fmt = by_name(str(document["format"]))
        version = document.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise UnknownFormat(f"{fmt.name}: version {version!r} is not a positive integer")
        if version > fmt.version:
            raise UnknownFormat(f"{fmt.name} version {version} is newer than this twinbench reads ({fmt.version})")
        return fmt, version
    legacy = _LEGACY_SCHEMA.get(str(document.get("schema")))
    if legacy is not None:
        return legacy, 1
    legacy = _LEGACY_KIND.get(str(document.get("kind")))
    if legacy is not None:
        return legacy, 1
    version = document.get("schema_version")
    if isinstance(version, str):  # results.json wrote "1.0"; a "2.x" was never written
        if version.split(".")[0] == "1":
            return RESULTS, 1
        raise UnknownFormat(f"results schema version {version!r}; this twinbench reads 1.x and "
                            f"{RESULTS.name} up to version {RESULTS.version}")
    if version == 1 and "lambda_cost" in document:
        return COST, 1
    raise UnknownFormat("not a twinbench document: no 'format' key (nor a version-1 'schema'/'schema_version')")
