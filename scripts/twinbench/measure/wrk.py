"""wrk, the closed-loop HTTP load generator: its Lua script, one run, and its output parsed.

``bench-peers`` and ``bench-limit`` both drive wrk through :func:`run_wrk`: a Lua script
(:func:`wrk_lua_script`) POSTs the body and prints wrk's own summary as one JSON line (full
histogram, microseconds), and the text report is the fallback when that line is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import subprocess
import time
from pathlib import Path

__all__ = ["WRK_MARKER", "WrkError", "parse_wrk_done_line", "parse_wrk_text", "run_wrk", "wrk_lua_script",
           "wrk_step", "wrk_version"]

WRK_MARKER = "TWINBENCH_WRK "


class WrkError(RuntimeError):
    """wrk exited non-zero, did not finish, or printed nothing parseable."""


def wrk_lua_script(body: bytes) -> str:
    """Lua for wrk: POST ``body`` as JSON; ``done`` prints the summary as one JSON line.

    Latencies in wrk's ``done`` callback are microseconds. The line starts with ``WRK_MARKER``.
    """
    text = body.decode("utf-8")
    if "]]" in text:
        raise ValueError("body must not contain ']]' (Lua long string)")
    return (
        'wrk.method = "POST"\n'
        f"wrk.body = [[{text}]]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        "done = function(summary, latency, requests)\n"
        "  local e = summary.errors\n"
        f'  io.write(string.format("{WRK_MARKER}'
        '{\\"requests\\":%d,\\"duration_us\\":%d,\\"bytes\\":%d,'
        '\\"errors\\":{\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d},'
        '\\"latency_us\\":{\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d,\\"p999\\":%d,\\"min\\":%d,\\"max\\":%d,'
        '\\"mean\\":%.1f,\\"stdev\\":%.1f}}\\n",\n'
        "    summary.requests, summary.duration, summary.bytes,\n"
        "    e.connect, e.read, e.write, e.status, e.timeout,\n"
        "    latency:percentile(50), latency:percentile(90), latency:percentile(99),\n"
        "    latency:percentile(99.9), latency.min, latency.max, latency.mean, latency.stdev))\n"
        "end\n"
    )


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = re.compile(r"^\s*([\d.]+)(us|ms|s|m|h)\s*$")


def _ms(text: str) -> float:
    """wrk's human duration (``812.00us``, ``1.20ms``, ``2.01s``) in milliseconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk_text(text: str) -> dict[str, object]:
    """Parse wrk's standard report (run with ``--latency``).

    Returns ``requests``, ``duration_s``, ``rps``, ``latency_ms`` (``p50``/``p75``/``p90``/``p99``
    when the distribution was printed), ``errors`` (``connect``, ``read``, ``write``,
    ``timeout``, ``status``). Raises ``ValueError`` when the text has no ``Requests/sec`` line
    (wrk failed or was not run).
    """
    rps_match = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.MULTILINE)
    if not rps_match:
        raise ValueError("no 'Requests/sec' line in wrk output")
    out: dict[str, object] = {"rps": float(rps_match.group(1))}
    total = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", text, re.MULTILINE)
    if total:
        out["requests"] = int(total.group(1))
        out["duration_s"] = _ms(total.group(2)) / 1000.0
    latency: dict[str, float] = {}
    for pct, value in re.findall(r"^\s*(50|75|90|99)%\s+([\d.]+\w+)\s*$", text, re.MULTILINE):
        latency[f"p{pct}"] = _ms(value)
    out["latency_ms"] = latency
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sock:
        errors.update(connect=int(sock.group(1)), read=int(sock.group(2)),
                      write=int(sock.group(3)), timeout=int(sock.group(4)))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if non2xx:
        errors["status"] = int(non2xx.group(1))
    out["errors"] = errors
    return out


def parse_wrk_done_line(text: str) -> dict[str, object] | None:
    """The JSON line printed by :func:`wrk_lua_script`'s ``done``, or ``None`` if absent/garbled."""
    for line in text.splitlines():
        if line.startswith(WRK_MARKER):
            try:
                return json.loads(line[len(WRK_MARKER):])
            except json.JSONDecodeError:
                return None
    return None


def wrk_step(text: str) -> dict[str, object]:
    """One wrk run as a step record: ``rps`` (2xx answers per second), ``p50_ms``, ``p99_ms``, errors.

    Percentiles come from the ``done`` JSON line (wrk's full histogram, µs resolution); without
    it, from the text report. ``rps`` counts only successful (non-status-error) answers.
    Raises ``ValueError`` when neither can be parsed.
    """
    done = parse_wrk_done_line(text)
    if done is not None:
        lat = done["latency_us"]  # type: ignore[index]
        errors = dict(done["errors"])  # type: ignore[arg-type]
        duration_s = done["duration_us"] / 1e6  # type: ignore[operator]
        ok = max(0, int(done["requests"]) - int(errors.get("status", 0)))  # type: ignore[arg-type]
        return {
            "requests": int(done["requests"]),  # type: ignore[arg-type]
            "ok": ok,
            "duration_s": round(duration_s, 3),
            "rps": round(ok / duration_s, 2) if duration_s > 0 else 0.0,
            "p50_ms": round(lat["p50"] / 1000.0, 3),  # type: ignore[index]
            "p90_ms": round(lat["p90"] / 1000.0, 3),  # type: ignore[index]
            "p99_ms": round(lat["p99"] / 1000.0, 3),  # type: ignore[index]
            "p999_ms": round(lat["p999"] / 1000.0, 3),  # type: ignore[index]
            "max_ms": round(lat["max"] / 1000.0, 3),  # type: ignore[index]
            "mean_ms": round(lat["mean"] / 1000.0, 3),  # type: ignore[index]
            "errors": errors,
            "source": "wrk done() json",
        }
    parsed = parse_wrk_text(text)
    lat = parsed["latency_ms"]  # type: ignore[assignment]
    errors = parsed["errors"]  # type: ignore[assignment]
    requests = int(parsed.get("requests", 0))  # type: ignore[arg-type]
    duration_s = float(parsed.get("duration_s", 0.0))  # type: ignore[arg-type]
    ok = max(0, requests - int(errors["status"]))  # type: ignore[index]
    return {
        "requests": requests,
        "ok": ok,
        "duration_s": duration_s,
        "rps": round(ok / duration_s, 2) if duration_s > 0 else float(parsed["rps"]),  # type: ignore[arg-type]
        "p50_ms": lat.get("p50"),  # type: ignore[union-attr]
        "p90_ms": lat.get("p90"),  # type: ignore[union-attr]
        "p99_ms": lat.get("p99"),  # type: ignore[union-attr]
        "p999_ms": None,
        "max_ms": None,
        "mean_ms": None,
        "errors": errors,
        "source": "wrk text report",
    }


def wrk_version(wrk: str) -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=5)
        match = re.search(r"wrk\s+(\S+)", out.stdout + out.stderr)
        return match.group(1) if match else None
    return None


def run_wrk(wrk: str, url: str, script: Path, concurrency: int, duration_s: float,
            timeout_s: float = 10.0) -> dict[str, object]:
    """Run wrk once; returns :func:`wrk_step` plus wrk's own CPU (user+sys seconds, share of a core).

    Raises :class:`WrkError` when wrk exits non-zero or prints nothing parseable.
    """
    threads = min(concurrency, max(1, (os.cpu_count() or 1)))
    argv = [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(duration_s))}s",
            f"--timeout={max(1, round(timeout_s))}s", "--latency", "-s", str(script), url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + timeout_s + 30)
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish: {' '.join(argv)}") from exc
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise WrkError(f"wrk exited {proc.returncode}: {proc.stderr.strip()[:500]}")
    try:
        step = wrk_step(proc.stdout)
    except ValueError as exc:
        raise WrkError(f"cannot parse wrk output ({exc}):\n{proc.stdout[:1000]}") from exc
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    step.update(concurrency=concurrency, wrk_threads=threads, wrk_cpu_s=round(cpu_s, 3),
                wrk_cpu_fraction=round(cpu_s / wall, 3) if wall > 0 else None)
    return step
