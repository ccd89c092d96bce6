"""The table printed at the end of ``make chaos``."""

from __future__ import annotations


def _fmt_status(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}:{v}" for k, v in sorted(counts.items())) or "-"


def summary_lines(document: dict) -> list[str]:
    """The table printed at the end of ``make chaos``."""
    lines = [f"{'target':9s} {'fault':18s} {'rps':>5s} {'sent':>6s} {'failed':>6s} {'by status':28s} "
             f"{'recover':>8s} {'replaced':>9s} {'left':>5s} check"]
    for f in document["faults"]:
        facts = f.get("facts", {})
        replaced = facts.get("replaced_s", facts.get("destroyed_after_s", facts.get("gone_s")))
        left = f.get("left_running", {})
        left_n = len(left.get("pids", [])) + len(left.get("ports", []))
        rec = f.get("recovery_s")
        lines.append(
            f"{f['target']:9s} {f['fault']:18s} {f.get('offered_rps') or 0:5.0f} {f.get('sent') if f.get('sent') is not None else '-':>6} "
            f"{f.get('failed') if f.get('failed') is not None else '-':>6} {_fmt_status(f.get('failed_by_status') or {})[:28]:28s} "
            f"{(f'{rec:.1f} s' if rec is not None else '-'):>8s} {(f'{replaced:.2f} s' if replaced is not None else '-'):>9s} "
            f"{left_n:5d} {'ok' if f['ok'] else 'FAIL'}")
        for check in f["checks"]:
            if not check["ok"]:
                lines.append(f"  FAIL {f['fault']}: {check['name']}: {check['detail']}")
    for f in document["faults"]:
        if f["fault"] == "master-sigkill":
            facts = f["facts"]
            lines.append(f"  master-sigkill: workers exited {facts.get('workers_exited_s')} s after their master; "
                         f"a new gunicorn (standing in for the kubelet's restart, no back-off) ready in "
                         f"{(facts.get('restart_to_ready_ms') or 0) / 1000:.2f} s; restarting the pod is Kubernetes' job")
        if f["fault"] == "worker-stall":
            lines.append(f"  worker-stall: gunicorn timeout {f['facts'].get('gunicorn_timeout_s')} s, killed "
                         f"{f['facts'].get('killed_after_s')} s after SIGSTOP (arbiter: SIGABRT, then SIGKILL a loop later)")
    left = document.get("leftovers", {})
    lines.append(f"left running at the end: {len(left.get('pids', []))} processes, {len(left.get('ports', []))} ports "
                 f"listening")
    lines.append("recovery: first of 2 one-second bins in a row with no error, p99 <= 1.5 x pre-fault p99 + 2 ms "
                 "and >= 90 % of the pre-fault throughput; '-' = not within the window")
    lines.append(f"chaos: {'PASS' if document['ok'] else 'FAIL'} in {document['wall_s']:.0f} s -> {document['path']}")
    return lines
