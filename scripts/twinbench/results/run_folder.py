"""The one place that owns a run's folder: its name, its environment metadata, signals, and writing.

Why: ``bench``, ``bench-peers``, ``soak`` and ``fuzz`` must all leave a readable, honest folder
even when interrupted. Each runs inside a :class:`RunFolder`::

    with RunFolder(formats.SOAK, root=RESULTS, prefix="soak") as run:   # results/soak-<UTC ts>/
        try:
            ...measure...
        except KeyboardInterrupt:          # Ctrl-C, or SIGTERM turned into RunInterrupted
            run.mark_interrupted()
        run.write(run.document(SoakResults(...)))

Metadata is collected once on entry; SIGTERM raises :class:`RunInterrupted` and SIGINT is always
``KeyboardInterrupt``, so partial results are written marked ``"interrupted": true``; documents are
written atomically with NaN/inf as ``null``. Naming and signal rules: docs/benchmark.md, "Run folders".
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from twinbench.results.documents import P, RunDocument, utc_now
from twinbench.results.formats import Format

__all__ = ["RunFolder", "RunFolderError", "RunInterrupted", "clean_json", "write_json_atomic"]

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_NAME_SUFFIX = 1000


class RunInterrupted(KeyboardInterrupt):
    """SIGTERM during a run: unwinds like Ctrl-C so every ``finally`` runs and partial results are written."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signal.Signals(signum).name}")
        self.signum = signum


def clean_json(value: Any) -> Any:
    """NaN/inf are not JSON: write them as null (tuples become lists)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def write_json_atomic(data: Any, path: Path, *, indent: int | None = None) -> Path:
    """Write ``data`` as JSON to ``path`` via a temporary file and a rename: never half a document.

    ``indent=None`` writes compact JSON (documents with raw samples); otherwise indented with a
    final newline. Raises ``OSError`` from the file system and ``ValueError`` for non-JSON values.
    """
    if indent is None:
        text = json.dumps(clean_json(data), separators=(",", ":"), allow_nan=False)
    else:
        text = json.dumps(clean_json(data), indent=indent, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


class RunFolderError(Exception):
    """The run folder cannot be created (a file in its place, a read-only parent): a usage error."""


class RunFolder:
    """A run's folder, environment, signal handling and atomic writes (see the module docstring)."""

    def __init__(self, fmt: Format, *, root: Path | None = None, prefix: str = "", path: Path | None = None,
                 logs: bool = False, environment: Callable[[], dict[str, Any]] | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        if (root is None) == (path is None):
            raise ValueError("RunFolder needs either root (a new <prefix>-<ts> folder in it) or path")
        self.format = fmt
        self._root, self._prefix, self._fixed = root, prefix, path
        self._logs = logs
        self._environment = environment
        self._now = now or (lambda: datetime.now(UTC))
        self.path: Path = path or Path()
        self.created = ""
        self.environment: dict[str, Any] = {}
        self.interrupted = False
        self._previous: dict[int, Any] = {}
        self._pending: int | None = None

    # -- the folder ------------------------------------------------------------------------------

    def _make_folder(self, started: datetime) -> Path:
        try:
            return self._new_folder(started)
        except OSError as exc:  # a file where the folder goes, no permission: the user's to fix, in one line
            raise RunFolderError(f"cannot create the run folder {exc.filename or self._fixed or self._root}: "
                                 f"{exc.strerror or exc}") from None

    def _new_folder(self, started: datetime) -> Path:
        if self._fixed is not None:
            self._fixed.mkdir(parents=True, exist_ok=True)
            return self._fixed
        assert self._root is not None
        stamp = started.strftime(STAMP_FORMAT)
        base = f"{self._prefix}-{stamp}" if self._prefix else stamp
        for n in range(1, MAX_NAME_SUFFIX + 1):
            folder = self._root / (base if n == 1 else f"{base}-{n}")
            try:
                folder.mkdir(parents=True)
                return folder
            except FileExistsError:
                continue
        raise FileExistsError(f"{self._root}/{base}: {MAX_NAME_SUFFIX} run folders of the same second exist")

    @property
    def logs(self) -> Path:
        """``<folder>/logs``: server and tool logs of the run."""
        return self.path / "logs"

    def __enter__(self) -> RunFolder:
        started = self._now()
        self.created = started.astimezone(UTC).isoformat(timespec="seconds")
        self.path = self._make_folder(started)
        if self._logs:
            self.logs.mkdir(exist_ok=True)
        if self._environment is not None:
            self.environment = self._environment()
        else:
            from twinbench.results import envinfo

            self.environment = envinfo.collect()
        self._install()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._restore()
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.interrupted = True

    # -- signals ---------------------------------------------------------------------------------

    def _install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread; the caller owns signals
        self._previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, self._on_signal),
                          signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler)}

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.interrupted = True
        raise RunInterrupted(signum)

    def _hold(self, signum: int, frame: FrameType | None) -> None:
        self._pending = signum

    def mark_interrupted(self) -> None:
        """The caller caught the KeyboardInterrupt itself: the document says the run is partial."""
        self.interrupted = True

    # -- documents -------------------------------------------------------------------------------

    def document(self, payload: P, *, environment: dict[str, Any] | None = None,
                 interrupted: bool | None = None) -> RunDocument[P]:
        """The envelope for ``payload`` with this run's created stamp, environment and interrupted flag."""
        if self.format != payload.FORMAT:
            raise ValueError(f"a {payload.FORMAT.name} payload in a {self.format.name} run folder")
        return RunDocument(payload, created=self.created or utc_now(),
                           environment=self.environment if environment is None else environment,
                           interrupted=self.interrupted if interrupted is None else interrupted)

    def write(self, document: RunDocument[Any], name: str | None = None, *, indent: int | None = None) -> Path:
        """Write ``document`` to ``<folder>/<name or the kind's file name>`` atomically; return the path.

        SIGTERM/SIGINT arriving meanwhile are held and re-raised once the file is in place.
        """
        path = self.path / (name or document.format.file_name)
        main = threading.current_thread() is threading.main_thread()
        held: dict[int, Any] = {}
        self._pending = None
        try:
            if main:
                held = {s: signal.signal(s, self._hold) for s in (signal.SIGTERM, signal.SIGINT)}
            write_json_atomic(document.to_dict(), path, indent=indent)
        finally:
            for signum, handler in held.items():
                signal.signal(signum, handler)
        if self._pending is not None:
            signum, self._pending = self._pending, None
            self.interrupted = True
            raise RunInterrupted(signum)
        return path
