"""The local Lambda's own warm overhead: invoke through the emulator vs call the handler in-process.

Both sides run the same handler from the same package on the same interpreter (the runtime's
Python 3.12): *in-process* imports it in a child process and times ``handler(event, context)``
directly; *through the emulator* times a keep-alive HTTP round trip to the front (front -> 2.0
event -> Runtime API -> awslambdaric -> result -> HTTP). The difference of the medians is what
the emulator (and awslambdaric's own marshalling) adds to every warm call; target <= 2 ms.
The CPU quota is off for both, so the comparison is like for like. Warm-up samples are dropped.

By default the handler is a tiny built-in echo function, so the figure is the emulator's alone;
``--package``/``--handler`` measure a real function instead (e.g. ``build/lambda/pkg``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from twinserve.cli_parser import OneLineParser

from twinbench.cli.arg_types import non_negative_int, positive_int
from twinbench.local_lambda import LocalLambda
from twinbench.local_lambda.environments import runtime_environment
from twinbench.local_lambda.events import FrontRequest, build_event
from twinbench.local_lambda.settings import DEFAULT_PYTHON, LambdaSettings
from twinbench.measure.stats import summarize
from twinbench.results import formats

TARGET_MEDIAN_MS = 2.0

ECHO_HANDLER = '''\
import json


def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"ok": True, "path": event.get("rawPath")})}
'''

# Runs in the runtime's interpreter: import the handler like awslambdaric does, time the call.
IN_PROCESS_TIMER = r'''
import importlib, json, sys, time
spec = json.load(sys.stdin)
module, func = spec["handler"].rsplit(".", 1)
handler = getattr(importlib.import_module(module), func)

class Context:
    function_name = "twinserve-local"; memory_limit_in_mb = spec["memory_mb"]
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    def get_remaining_time_in_millis(self): return 30000

ctx, event, samples = Context(), spec["event"], []
for i in range(spec["warmup"] + spec["n"]):
    t0 = time.perf_counter()
    handler(event, ctx)
    if i >= spec["warmup"]:
        samples.append((time.perf_counter() - t0) * 1000)
json.dump(samples, sys.stdout)
'''


def in_process_samples(settings: LambdaSettings, event: dict, n: int, warmup: int) -> list[float]:
    """Latencies (ms) of ``handler(event, context)`` called directly in the runtime's interpreter."""
    env = runtime_environment(settings, "inprocess", "127.0.0.1:9")
    spec = {"handler": settings.handler, "memory_mb": settings.memory_mb, "event": event, "n": n, "warmup": warmup}
    done = subprocess.run([str(settings.python), "-c", IN_PROCESS_TIMER], input=json.dumps(spec),
                          capture_output=True, text=True, cwd=settings.package_dir, env=env, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"in-process timing failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def emulator_samples(url: str, method: str, path: str, body: bytes, headers: dict[str, str],
                     n: int, warmup: int) -> tuple[list[float], int]:
    """Round-trip latencies (ms) over one keep-alive connection; returns (samples, non-2xx count)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    samples, failures = [], 0
    try:
        for i in range(warmup + n):
            t0 = time.perf_counter()
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed_ms = (time.perf_counter() - t0) * 1000
            if not 200 <= response.status < 300:
                failures += 1
            elif i >= warmup:
                samples.append(elapsed_ms)
    finally:
        conn.close()
    return samples, failures


def measure(package_dir: Path, handler: str, *, n: int, warmup: int, python: Path = DEFAULT_PYTHON,
            method: str = "GET", path: str = "/", body: bytes = b"", content_type: str = "application/json",
            memory_mb: int = 1024, env: dict[str, str] | None = None) -> dict[str, object]:
    """Both sample sets, their summaries and the overhead; raises ``RuntimeError`` on failures."""
    headers = {"content-type": content_type} if body else {}
    load_before = os.getloadavg()[0]
    with LocalLambda(package_dir, handler=handler, memory_mb=memory_mb, python=python, env=env,
                     cpu_quota=False, reserved_concurrency=1) as lam:
        host = urlsplit(lam.url).netloc
        through, failures = emulator_samples(lam.url, method, path, body, headers, n, warmup)
        if failures:
            raise RuntimeError(f"{failures} non-2xx answers from the emulator; last log lines:\n"
                               + "\n".join(list(lam.logs)[-20:]))
        reports = [r for r in lam.reports[warmup + 1:]]
        stats = lam.stats()
    request = FrontRequest(method, path, "", [("host", host), *headers.items()], body)
    direct = in_process_samples(LambdaSettings(package_dir=package_dir, handler=handler, python=python,
                                               memory_mb=memory_mb, env=env or {}),
                                build_event(request), n, warmup)
    load_after = os.getloadavg()[0]
    s_through, s_direct = summarize(through), summarize(direct)
    overhead_median = s_through["median_ms"] - s_direct["median_ms"]
    return {
        **formats.LAMBDA_OVERHEAD.header(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "load_average_1m": [round(load_before, 2), round(load_after, 2)],
                    "emulator_python": sys.version.split()[0], "runtime_python": str(python)},
        "package_dir": str(package_dir), "handler": handler, "warmup_dropped": warmup,
        "request": {"method": method, "path": path, "body_bytes": len(body)},
        "through_emulator": s_through,
        "in_process": s_direct,
        "report_duration": summarize([r.duration_ms for r in reports]),
        "overhead_median_ms": round(overhead_median, 3),
        "overhead_p99_ms": round(s_through["p99_ms"] - s_direct["p99_ms"], 3),
        "target_median_ms": TARGET_MEDIAN_MS,
        "within_target": overhead_median <= TARGET_MEDIAN_MS,
        "runtime_api_tcp_nodelay": stats["runtime_api_tcp_nodelay"],
        "cpu_quota_applied": False,
    }


def _line(label: str, s: dict) -> str:
    lo, hi = s["ci95"]["median_ms"]
    ci = f"[{lo}, {hi}]" if lo is not None and hi is not None else "n too small"
    return f"  {label:<22} n={s['n']:<5} median={s['median_ms']:.3f} ms (95% CI {ci})  p99={s['p99_ms']:.3f} ms"


def run_overhead(args: argparse.Namespace) -> int:
    """Entry point for ``serve-lambda --overhead``; prints the figure, exit 1 if it failed, 2 for a bad --json."""
    if args.json is not None and args.json.is_dir():  # refused before the measurement, not after it
        print(f"overhead: --json {args.json} is a directory", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="twinserve-echo-") as tmp:
        if args.package is None:
            package, handler = Path(tmp), "echo.handler"
            (package / "echo.py").write_text(ECHO_HANDLER)
        else:
            package, handler = args.package, args.handler
        body = args.body.encode() if args.body else b""
        print(f"overhead: {args.warmup} warm-up + {args.requests} measured requests, handler {handler} "
              f"in {package} ...", file=sys.stderr, flush=True)
        try:
            result = measure(package, handler, n=args.requests, warmup=args.warmup, python=args.python,
                             method=args.method, path=args.path, body=body, env=dict(args.env))
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            print(f"overhead: failed: {exc}", file=sys.stderr)
            return 1
    print("Local Lambda warm overhead (CPU quota off on both sides)")
    print(_line("through the emulator", result["through_emulator"]))
    print(_line("handler in-process", result["in_process"]))
    print(_line("REPORT Duration", result["report_duration"]))
    verdict = "within" if result["within_target"] else "ABOVE"
    print(f"  overhead: median {result['overhead_median_ms']:.3f} ms, p99 {result['overhead_p99_ms']:.3f} ms "
          f"({verdict} the {TARGET_MEDIAN_MS:g} ms target); Runtime API TCP_NODELAY={result['runtime_api_tcp_nodelay']}")
    load = result["machine"]["load_average_1m"]
    if max(load) > 0.5 * (os.cpu_count() or 1):
        print(f"  WARNING: machine busy (1-min load average {load[0]} -> {load[1]} on {os.cpu_count()} CPUs): "
              "cross-process wake-ups dominate this figure; re-run on a quiet machine")
    if args.json is not None:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        except OSError as exc:
            print(f"overhead: cannot write {args.json}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"  written to {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m twinbench.local_lambda.overhead``: the same as ``serve-lambda --overhead``."""
    parser = OneLineParser(prog="python -m twinbench.local_lambda.overhead", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_overhead_arguments(parser)
    return run_overhead(parser.parse_args(argv))


def add_overhead_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--package", type=Path, default=None,
                        help="package to measure (default: a built-in echo function)")
    parser.add_argument("--handler", default="handler.handler")
    parser.add_argument("--python", type=Path, default=DEFAULT_PYTHON)
    parser.add_argument("--env", type=lambda s: tuple(s.split("=", 1)), action="append", default=[])
    parser.add_argument("-n", "--requests", type=positive_int, default=300)
    parser.add_argument("--warmup", type=non_negative_int, default=30)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--path", default="/")
    parser.add_argument("--body", default="")
    parser.add_argument("--json", type=Path, default=None)


if __name__ == "__main__":
    sys.exit(main())
