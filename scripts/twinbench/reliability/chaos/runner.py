"""The chaos run: every fault of the settings in turn inside one run folder; ``chaos.json`` rewritten after each fault."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from twinserve_support.paths import REPO

from twinbench.measure.progress import Progress
from twinbench.reliability.chaos.container_faults import run_container_faults
from twinbench.reliability.chaos.interrupt import interrupt_fault
from twinbench.reliability.chaos.lambda_faults import run_lambda_faults
from twinbench.reliability.chaos.leftovers import Leftovers, leftovers
from twinbench.reliability.chaos.settings import (
    BIN_S,
    P99_FACTOR,
    P99_SLACK_MS,
    RECOVERED_BINS,
    RESULTS,
    SENT_GRACE_S,
    THROUGHPUT_FRACTION,
    ChaosSettings,
    pod_gunicorn_timeout_s,
)
from twinbench.reliability.chaos.stream import one_line
from twinbench.results import formats
from twinbench.results.documents import ChaosResults


def run(settings: ChaosSettings, progress: Progress | None = None) -> dict:
    """Inject every fault of ``settings``; returns the document also written to ``<folder>/chaos.json``.

    Interrupted (Ctrl-C, SIGTERM), it writes the faults finished so far, marked
    ``"interrupted": true``, stops everything it started, then re-raises the ``KeyboardInterrupt``.
    """
    from twinbench.results.lifecycle import RunLifecycle
    from twinbench.results.run_folder import RunFolder
    from twinbench.targets import request_body, request_payloads

    progress = progress or Progress()
    model_dir = Path(os.environ.get("MODEL_PATH") or REPO / "model")
    # The model's registered rows, sent round-robin by the load (the first of them where one body is sent).
    body = request_payloads(model_dir) or [request_body(model_dir)]
    folder = (RunFolder(formats.CHAOS, path=settings.out_dir, logs=True) if settings.out_dir
              else RunFolder(formats.CHAOS, root=RESULTS, prefix="chaos", logs=True))
    seen = Leftovers()
    with folder:
        payload = ChaosResults(settings=_settings_dict(settings), path=str(folder.path / formats.CHAOS.file_name))
        started = time.perf_counter()

        def write() -> dict:
            payload.wall_s = round(time.perf_counter() - started, 1)
            payload.leftovers = leftovers(seen)
            done = {f["fault"] for f in payload.faults}
            payload.ok = (not folder.interrupted and done == set(settings.faults)
                          and all(f["ok"] for f in payload.faults)
                          and not payload.leftovers["pids"] and not payload.leftovers["ports"])
            document = folder.document(payload)
            folder.write(document, indent=2)
            return document.to_dict()

        def emit(record: dict) -> None:
            payload.faults.append(record)
            write()

        with RunLifecycle(folder, save=write, note=progress.note) as lifecycle:
            targets = settings.targets()
            if "container" in targets or "target-vanishes" in settings.faults:
                run_container_faults(settings, body, folder.logs, seen, progress, emit, payload.targets)
            if "lambda" in targets:
                run_lambda_faults(settings, body, folder.path, seen, progress, emit, payload.targets)
            for signum, fault in ((signal.SIGINT, "interrupt-sigint"), (signal.SIGTERM, "interrupt-sigterm")):
                if fault in settings.faults:
                    record = interrupt_fault(signum, settings, folder.path, seen, progress)
                    progress.done(one_line(record))
                    emit(record)
    return lifecycle.saved


def _settings_dict(settings: ChaosSettings) -> dict[str, Any]:
    return {"faults": list(settings.faults), "rps": settings.rps, "load_fraction": settings.load_fraction,
            "pre_s": settings.pre_s, "window_s": settings.window_s,
            "gunicorn_timeout_s": settings.gunicorn_timeout_s or pod_gunicorn_timeout_s(),
            "lambda_timeout_s": settings.lambda_timeout_s, "lambda_environments": settings.lambda_environments,
            "oom_limit_kb": settings.oom_limit_kb, "package_dir": str(settings.package_dir),
            "recovery_rule": {"bin_s": BIN_S, "consecutive_bins": RECOVERED_BINS, "p99_factor": P99_FACTOR,
                              "p99_slack_ms": P99_SLACK_MS, "throughput_fraction": THROUGHPUT_FRACTION},
            "sent_grace_s": SENT_GRACE_S}
