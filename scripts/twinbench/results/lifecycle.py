"""One run's lifecycle, in one place: status, error, start and finish, and what an interrupt does.

Every command that writes a run document (``bench``, ``bench-peers``, ``chaos``, ``soak``,
``fuzz``, ``bench-tune``) wraps its measuring in a :class:`RunLifecycle` inside its
:class:`~twinbench.results.run_folder.RunFolder`::

    with RunFolder(formats.SOAK, root=RESULTS, prefix="soak") as folder:
        with RunLifecycle(folder, save=write, note=progress.note):
            ...measure...        # write() is called once at the end, interrupted or not

On Ctrl-C or SIGTERM the folder is marked interrupted, ``save`` writes the partial results,
``note`` says where, and the ``KeyboardInterrupt`` goes on (``keep_going=False``) or is kept
(``keep_going=True``, exit code 130). A failure is recorded (``status="failed"``, ``error``) and
raised again, or kept with ``keep_going=True`` (exit code 1, or :class:`RunFailed`'s own) so the
command writes its partial results and says why.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from twinbench.results.documents import utc_now
from twinbench.results.run_folder import RunFolder

__all__ = ["EXIT_INTERRUPTED", "RunFailed", "RunLifecycle"]

EXIT_INTERRUPTED = 130  # what a shell reports for a run ended by SIGINT


class RunFailed(Exception):
    """A failure the command has already described: no traceback, its own exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class RunLifecycle:
    """Status (``running`` → ``ok``/``interrupted``/``failed``), error and timing of one run.

    ``run`` is the document's run record to fill in (``status``, ``started_at``, ``finished_at``,
    ``duration_s``, ``error``); none is kept when omitted. ``save`` writes the document and is
    called on leaving, after the status is set, unless the run failed and ``keep_going`` is off
    (then nothing new is written, the exception goes on). ``interrupted_note`` replaces the default
    "interrupted: partial results in <file>".
    """

    def __init__(self, folder: RunFolder, *, run: dict[str, Any] | None = None,
                 save: Callable[[], Any] | None = None, note: Callable[[str], None] | None = None,
                 interrupted_note: str | None = None, keep_going: bool = False) -> None:
        self.folder = folder
        self.run: dict[str, Any] = run if run is not None else {}
        self._save = save
        self._note = note or (lambda line: None)
        self._interrupted_note = interrupted_note
        self._keep_going = keep_going
        self._t0 = 0.0
        self.exit_code = 0
        self.saved: Any = None

    @property
    def status(self) -> str:
        return str(self.run.get("status", "running"))

    @property
    def error(self) -> str | None:
        return self.run.get("error")

    def __enter__(self) -> RunLifecycle:
        self.run["status"] = "running"
        self.run.setdefault("started_at", utc_now())
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if exc is None:
            self.run["status"] = "ok"
        elif isinstance(exc, KeyboardInterrupt):
            self.folder.mark_interrupted()
            self.run["status"] = "interrupted"
            self.exit_code = EXIT_INTERRUPTED
        elif isinstance(exc, Exception):
            self.run["status"] = "failed"
            if isinstance(exc, RunFailed):
                self.run["error"], self.exit_code = str(exc), exc.exit_code
            else:
                self.run["error"], self.exit_code = f"{type(exc).__name__}: {exc}", 1
            if not self._keep_going:
                return False
            self._note(f"FAILED: {self.run['error']}")
            if not isinstance(exc, RunFailed):
                traceback.print_exception(exc, file=sys.stderr)
        else:
            return False  # SystemExit and the like: not a run's outcome
        self.run["finished_at"] = utc_now()
        self.run["duration_s"] = round(time.perf_counter() - self._t0, 1)
        if self._save is not None:
            self.saved = self._save()
        if isinstance(exc, KeyboardInterrupt):
            self._note(self._interrupted_note or
                       f"interrupted: partial results in {self.folder.path / self.folder.format.file_name}")
            return self._keep_going
        return True
