"""RunLifecycle: the status, error and timing of a run, and partial results written on an interrupt."""

from __future__ import annotations

from pathlib import Path

import pytest
from twinbench.results import formats
from twinbench.results.lifecycle import EXIT_INTERRUPTED, RunFailed, RunLifecycle
from twinbench.results.run_folder import RunFolder


def _folder(tmp_path: Path) -> RunFolder:
    return RunFolder(formats.SOAK, root=tmp_path, prefix="soak", environment=dict)


def test_a_finished_run_is_ok_timed_and_saved_once(tmp_path: Path):
    saves: list[str] = []
    run: dict = {"id": "x"}
    with _folder(tmp_path) as folder:
        lifecycle = RunLifecycle(folder, run=run, save=lambda: saves.append(lifecycle.status) or "doc")
        with lifecycle:
            assert run["status"] == "running" and "started_at" in run
    assert saves == ["ok"] and lifecycle.saved == "doc" and lifecycle.exit_code == 0
    assert run["status"] == "ok" and run["finished_at"] >= run["started_at"] and run["duration_s"] >= 0
    assert not folder.interrupted


def test_an_interrupt_marks_the_folder_saves_the_partial_run_says_where_and_goes_on(tmp_path: Path):
    notes: list[str] = []
    saved: list[bool] = []
    folder = _folder(tmp_path)
    with pytest.raises(KeyboardInterrupt), folder, RunLifecycle(folder, save=lambda: saved.append(folder.interrupted),
                                                              note=notes.append):
        raise KeyboardInterrupt
    assert saved == [True] and folder.interrupted
    assert notes == [f"interrupted: partial results in {folder.path / 'soak.json'}"]


def test_keep_going_keeps_the_interrupt_and_the_failure_as_exit_codes(tmp_path: Path):
    with _folder(tmp_path) as folder:
        interrupted = RunLifecycle(folder, keep_going=True, interrupted_note="stopped")
        with interrupted:
            raise KeyboardInterrupt
        failed = RunLifecycle(folder, keep_going=True)
        with failed:
            raise ValueError("boom")
        said = RunLifecycle(folder, keep_going=True)
        with said:
            raise RunFailed("no podman", exit_code=2)
    assert (interrupted.status, interrupted.exit_code) == ("interrupted", EXIT_INTERRUPTED)
    assert (failed.status, failed.error, failed.exit_code) == ("failed", "ValueError: boom", 1)
    assert (said.status, said.error, said.exit_code) == ("failed", "no podman", 2)


def test_without_keep_going_a_failure_is_recorded_not_saved_and_raised(tmp_path: Path):
    saved: list[int] = []
    with _folder(tmp_path) as folder:
        lifecycle = RunLifecycle(folder, save=lambda: saved.append(1))
        with pytest.raises(ValueError), lifecycle:
            raise ValueError("boom")
    assert saved == [] and lifecycle.status == "failed" and lifecycle.error == "ValueError: boom"
