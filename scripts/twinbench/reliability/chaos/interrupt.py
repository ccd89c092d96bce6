"""The bench itself interrupted: a child ``twinbench chaos`` sent SIGINT or SIGTERM mid-run must write its partial results and leave nothing running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from twinserve_support.paths import REPO

from twinbench.measure.progress import Progress
from twinbench.reliability.chaos.leftovers import Leftovers, leftovers
from twinbench.reliability.chaos.settings import ChaosSettings
from twinbench.reliability.chaos.stream import judge
from twinbench.results import formats


def interrupt_fault(signum: int, settings: ChaosSettings, folder: Path, seen: Leftovers, progress: Progress) -> dict:
    """A child ``twinbench chaos`` interrupted mid-stream: exit 130, partial chaos.json, nothing left."""
    name = signal.Signals(signum).name
    fault = "interrupt-sigint" if signum == signal.SIGINT else "interrupt-sigterm"
    out = folder / f"child-{name.lower()}"
    argv = [sys.executable, "-m", "twinbench", "chaos", "--faults", "worker-sigkill", "--rps", str(settings.rps or 50),
            "--pre-s", "30", "--window-s", "30", "--out", str(out), "--quiet"]
    progress.phase(f"bench: {name} to a running `twinbench chaos`")
    log = (folder / "logs" / f"child-{name.lower()}.log").open("wb")
    t0 = time.perf_counter()
    child = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    mine = Leftovers()
    mine.add([child.pid])
    facts: dict[str, Any] = {"argv": argv[1:]}
    try:
        # Interrupt once the stream flows: gunicorn is up and answering, then 2 s more.
        deadline = time.perf_counter() + 60.0
        streaming_since = None
        while time.perf_counter() < deadline and child.poll() is None:
            with contextlib.suppress(psutil.Error):
                kids = psutil.Process(child.pid).children(recursive=True)
                mine.add([k.pid for k in kids])
                for k in kids:
                    with contextlib.suppress(psutil.Error):
                        mine.add(ports=[c.laddr.port for c in k.net_connections(kind="tcp")
                                        if c.status == psutil.CONN_LISTEN])
                if any("gunicorn" in " ".join(k.cmdline()) for k in kids if k.is_running()) and mine.ports:
                    streaming_since = streaming_since or time.perf_counter()
            if streaming_since and time.perf_counter() - streaming_since > 4.0:
                break
            time.sleep(0.1)
        facts["signalled_after_s"] = round(time.perf_counter() - t0, 2)
        t_sig = time.perf_counter()
        os.kill(child.pid, signum)
        try:
            code = child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        facts["exit_s"] = round(time.perf_counter() - t_sig, 2) if code is not None else None
        facts["exit_code"] = code
    finally:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        log.close()
    time.sleep(0.2)
    left = leftovers(mine)
    seen.add(mine.pids, mine.ports)
    doc = {}
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads((out / formats.CHAOS.file_name).read_text())
    facts["document"] = {k: doc.get(k) for k in ("format", "interrupted", "ok")} | {"faults": len(doc.get("faults", []))}
    served = 0
    with contextlib.suppress(OSError):
        served = sum(log.read_text(errors="replace").count('"path":"/predict"') for log in (out / "logs").glob("container-*.log"))
    facts["requests_served_before_the_signal"] = served
    facts["processes_seen"] = len(mine.pids)
    facts["ports_seen"] = sorted(mine.ports)
    record = {"target": "bench", "fault": fault, "offered_rps": settings.rps or 50, "duration_s": None, "pre_s": None,
              "t_fault_s": facts["signalled_after_s"], "sent": None, "failed": None, "failed_by_status": {},
              "recovery_s": None, "left_running": left, "facts": facts}
    return judge(record, [
        ("exit 130", facts["exit_code"] == 130, f"exit {facts['exit_code']} after {facts['exit_s']} s"),
        ("partial chaos.json marked interrupted", doc.get("interrupted") is True and doc.get("ok") is False,
         f"{facts['document']}"),
        ("nothing left running", not left["pids"] and not left["ports"],
         f"{left} of {len(mine.pids)} processes and ports {sorted(mine.ports)} seen"),
        ("the stream was running when signalled", served > 0 and len(mine.pids) >= 3,
         f"{served} requests served by the child's gunicorn, {len(mine.pids)} processes seen"),
    ])
