"""RunFolder: folder names, environment collected once, SIGTERM/SIGINT as KeyboardInterrupt, atomic writes."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
from twinbench.results import formats, run_folder
from twinbench.results.documents import SoakResults
from twinbench.results.run_folder import RunFolder, RunInterrupted, write_json_atomic

NOON = datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC)


def _folder(tmp_path: Path, **kw: object) -> RunFolder:
    calls = []

    def environment() -> dict:
        calls.append(1)
        return {"collected": len(calls)}

    return RunFolder(formats.SOAK, root=tmp_path, prefix="soak", environment=environment, now=lambda: NOON, **kw)


def test_folder_names_keep_todays_pattern_and_never_collide(tmp_path: Path):
    with _folder(tmp_path) as first, _folder(tmp_path) as second:
        pass
    assert (first.path.name, second.path.name) == ("soak-20260131T120000Z", "soak-20260131T120000Z-2")
    with RunFolder(formats.RESULTS, root=tmp_path, environment=dict, now=lambda: NOON) as bench:
        assert bench.path.name == "20260131T120000Z" and bench.created == "2026-01-31T12:00:00+00:00"
    with RunFolder(formats.SOAK, path=tmp_path / "given" / "here", environment=dict) as given:
        assert given.path == tmp_path / "given" / "here" and given.path.is_dir()
    with pytest.raises(ValueError):
        RunFolder(formats.SOAK)


def test_environment_is_collected_once_and_goes_into_every_document(tmp_path: Path):
    with _folder(tmp_path) as run:
        a = run.document(SoakResults(settings={}))
        b = run.document(SoakResults(settings={}))
    assert a.environment == b.environment == {"collected": 1}
    with pytest.raises(ValueError, match="payload in a twinbench.results run folder"):
        RunFolder(formats.RESULTS, path=tmp_path, environment=dict).document(SoakResults(settings={}))


def test_sigterm_unwinds_as_keyboard_interrupt_and_handlers_come_back(tmp_path: Path):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell starts a background job
    try:
        with pytest.raises(RunInterrupted) as caught, _folder(tmp_path) as run:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes; give it a bounded moment
                pass
        assert caught.value.signum == signal.SIGTERM and isinstance(caught.value, KeyboardInterrupt)
        assert run.interrupted
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # restored
        with pytest.raises(KeyboardInterrupt), _folder(tmp_path) as run:
            os.kill(os.getpid(), signal.SIGINT)  # not ignored inside the run
            for _ in range(1000):
                pass
        assert run.interrupted
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_signal_during_a_write_waits_until_the_file_is_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real = run_folder.write_json_atomic

    def write_then_signal(data: object, path: Path, **kw: object) -> Path:
        os.kill(os.getpid(), signal.SIGTERM)  # held: the write goes on
        return real(data, path, **kw)

    monkeypatch.setattr(run_folder, "write_json_atomic", write_then_signal)
    with pytest.raises(RunInterrupted), _folder(tmp_path) as run:
        run.write(run.document(SoakResults(settings={"n": 1})), indent=2)
    written = json.loads((run.path / "soak.json").read_text())
    assert written["format"] == "twinbench.soak" and written["settings"] == {"n": 1}
    assert run.interrupted


def test_mark_interrupted_flags_the_document(tmp_path: Path):
    with _folder(tmp_path) as run:
        run.mark_interrupted()
        doc = run.document(SoakResults(settings={})).to_dict()
    assert doc["interrupted"] is True


def test_atomic_write_leaves_no_temporary_file_and_writes_nan_as_null(tmp_path: Path):
    path = write_json_atomic({"x": float("nan"), "y": (1, float("inf"))}, tmp_path / "d.json")
    assert json.loads(path.read_text()) == {"x": None, "y": [1, None]}
    with pytest.raises(TypeError):
        write_json_atomic({"x": object()}, tmp_path / "d.json")
    assert json.loads(path.read_text()) == {"x": None, "y": [1, None]}  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json"]
