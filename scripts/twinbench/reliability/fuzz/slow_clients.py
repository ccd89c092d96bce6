"""Slow clients: sockets trickling bytes must not stop other clients being served.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import time

from twinbench.reliability.fuzz.wire import http_request, split_url


def slow_clients(base_url: str, body: bytes, count: int = 4, duration_s: float = 10.0,
                 interval_s: float = 1.0, request_timeout_s: float = 5.0) -> dict:
    """``count`` sockets trickle a request one byte per ``interval_s`` (half in the headers, half in
    a body announced far larger than sent) for ``duration_s``, while one normal client keeps sending
    ``POST /predict`` on fresh connections. Bounded: ends after ``duration_s`` (+ one request timeout).

    Returns counts and latencies of the normal client; ``problem`` is set when any of its
    requests failed or waited longer than ``request_timeout_s``.
    """
    host, port, prefix = split_url(base_url)
    stop = threading.Event()
    trickled = collections.Counter()
    sockets: list[socket.socket] = []

    def trickler(index: int) -> None:
        # Even sockets stall in the headers (slowloris); odd ones in the body (slow POST / RUDY).
        head = f"POST {prefix}/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        if index % 2:
            head += "Content-Length: 100000\r\n\r\n"
        payload = head.encode() if index % 2 else b""
        drip = (b'{"features": [' + b"1" * 200_000) if index % 2 else (head.encode() + b"X-Slow: " + b"a" * 8000)
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError:
            trickled["connect_failed"] += 1
            return
        sockets.append(sock)
        try:
            if payload:
                sock.sendall(payload)
            for byte in drip:
                if stop.wait(interval_s):
                    break
                sock.sendall(bytes([byte]))
                trickled["bytes"] += 1
        except OSError:
            trickled["closed_by_server"] += 1

    threads = [threading.Thread(target=trickler, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(min(1.0, duration_s / 4))  # let the slow sockets occupy their threads first
    latencies_ms: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + duration_s
    try:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            answer = http_request(base_url, "POST", "/predict", body, timeout_s=request_timeout_s)
            latencies_ms.append((time.perf_counter() - t0) * 1000.0)
            if answer.status != 200:
                failures.append(f"{answer.status} {answer.error or answer.body[:80]!r}")
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=interval_s + 5)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
    latencies_ms.sort()
    worst = latencies_ms[-1] if latencies_ms else None
    problem = None
    if not latencies_ms:
        problem = "the normal client sent nothing"
    elif failures:
        problem = f"{len(failures)} of {len(latencies_ms)} normal requests failed while slow clients trickled: {failures[:3]}"
    elif worst is not None and worst > request_timeout_s * 1000.0:
        problem = f"a normal request waited {worst:.0f} ms"
    return {
        "slow_sockets": count, "duration_s": duration_s, "interval_s": interval_s,
        "bytes_trickled": trickled["bytes"], "slow_sockets_closed_by_server": trickled["closed_by_server"],
        "normal_requests": len(latencies_ms), "normal_failures": len(failures),
        "normal_p50_ms": round(latencies_ms[len(latencies_ms) // 2], 2) if latencies_ms else None,
        "normal_max_ms": round(worst, 2) if worst is not None else None,
        "problem": problem,
    }
