"""Smoke-test the predictor image for real: run it with podman as the pod runs, and ask it.

Why: the image's user, read-only root, limits, health check and clean SIGTERM are facts only a
running container shows. The checks, in order, are the ``--help`` text (:data:`HELP`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import socket
import sys
import time
from pathlib import Path
from typing import Any

from twinserve.cli_parser import OneLineParser
from twinserve_support.podman import (
    DEFAULT_IMAGE,
    REPO,
    PodmanContainer,
    PodmanError,
    PodmanStartError,
    podman,
)

HELP = """Smoke-test the predictor image for real: run it with podman as the pod runs, and ask it.

Checks, in order (any failure exits 1; the container is always stopped and removed):
  1. the image runs as UID/GID 10001 and has a HEALTHCHECK (image config);
  2. the container becomes ready (GET /ready 200) within --ready-timeout-s, started with the
     Kubernetes limits (--cpus/--memory from k8s/base/deployment.yaml unless given), a
     read-only root filesystem, only /tmp writable, all capabilities dropped, host network
     bound to 127.0.0.1;
  3. GET /health 200, GET /ready 200 naming the served artefact of --model-dir's metadata.json;
  4. POST /predict with the model's registered rows -> 200 with one prediction (a known class for a
     classifier);
     a malformed body -> 4xx with the {"error": {"code", "message"}} shape;
  5. the image's own HEALTHCHECK command succeeds inside the container;
  6. nothing in the container could write outside /tmp (the root fs really is read-only);
  7. SIGTERM by container ID: exit code 0 within --max-stop-s (default: the image's
     GUNICORN_GRACEFUL_TIMEOUT, i.e. workers must exit on their own, not be waited out), and
     no error, traceback or crashed worker anywhere in the container's log.

Usage: python scripts/image_smoke.py [--image localhost/twinserve-predict:0.1.0] [--port N]
Prints one line per check and a JSON summary (timings in ms) at the end.

Exit status: 0 every check passed; 1 a check failed; 2 bad usage or input, before anything runs
(one line: --model-dir without a registered model's metadata.json, --port outside 0-65535,
--cpus, --memory-mb, --ready-timeout-s or --max-stop-s not a finite number > 0).
"""
"""The ``--help`` text: what it does, step by step, and its exit codes."""

DEPLOYMENT = REPO / "k8s" / "base" / "deployment.yaml"
# Log lines that mean something went wrong even though the requests succeeded: gunicorn errors,
# Python tracebacks, workers killed or aborted (e.g. native code crashing at worker exit).
BAD_LOG_MARKS = ("[ERROR]", "[CRITICAL]", "Traceback (most recent call last)", "was sent SIGABRT",
                 "was sent SIGKILL", "terminate called")


class SmokeFailure(Exception):
    """One check failed; the message says which and why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def k8s_limits() -> tuple[float, int]:
    """(cpu cores, memory MiB) of the predictor container in the k8s Deployment."""
    from k8s_validate import load_objects, predictor_limits  # scripts/ is on PYTHONPATH

    limits = predictor_limits(load_objects(DEPLOYMENT))
    return float(limits.cpu_cores), limits.memory_bytes // 2**20


def request(port: int, method: str, path: str, body: bytes | None = None,
            content_type: str = "application/json") -> tuple[int, Any, float]:
    """(status, parsed JSON body, latency_ms) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    started = time.perf_counter()
    try:
        headers = {"Content-Type": content_type} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        latency_ms = (time.perf_counter() - started) * 1e3
    finally:
        conn.close()
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise SmokeFailure(f"{method} {path}: body is not JSON: {raw[:200]!r}") from exc
    return resp.status, parsed, latency_ms


def check(ok: bool, what: str, detail: object = "") -> None:
    if not ok:
        raise SmokeFailure(f"{what}: {detail}")
    print(f"  ok  {what}")


def image_config(image: str) -> dict[str, Any]:
    out = podman("image", "inspect", "--format", "{{json .Config}}", image).stdout
    config = json.loads(out)
    health = podman("image", "inspect", "--format", "{{json .HealthCheck}}", image).stdout
    config["_healthcheck"] = json.loads(health or "null")
    return config


def run(args: argparse.Namespace) -> dict[str, Any]:
    from twinserve.samples import request_bodies

    metadata = json.loads((args.model_dir / "metadata.json").read_text())
    served = metadata["artefacts"].get("serving") or metadata["artefacts"]["source"]
    bodies = request_bodies(args.model_dir)
    config = image_config(args.image)
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    check(config.get("User") == "10001:10001", "image USER is 10001:10001", config.get("User"))
    check(bool(config["_healthcheck"]), "image has a HEALTHCHECK", config["_healthcheck"])
    graceful_s = float(env.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
    max_stop_s = args.max_stop_s if args.max_stop_s is not None else graceful_s

    container = PodmanContainer(args.port, args.cpus, args.memory_mb, image=args.image,
                                ready_timeout_s=args.ready_timeout_s, stop_timeout_s=int(graceful_s) + 10)
    print(f"starting {args.image} on {container.url} with --cpus={args.cpus:g} --memory={args.memory_mb}m")
    summary: dict[str, Any] = {"image": args.image, "cpus": args.cpus, "memory_mb": args.memory_mb}
    with container:
        summary["start_to_ready_ms"] = round(container.timings["start_to_ready_ms"], 1)
        check(True, f"ready after {summary['start_to_ready_ms']:.0f} ms")

        status, body, _ = request(args.port, "GET", "/health")
        check(status == 200, "GET /health -> 200", (status, body))
        status, body, _ = request(args.port, "GET", "/ready")
        check(status == 200 and body.get("model", {}).get("sha256") == served["sha256"],
              "GET /ready -> 200 with the served artefact's sha256", (status, body))

        status, body, latency_ms = request(args.port, "POST", "/predict", bodies[0])
        preds = body.get("predictions") if isinstance(body, dict) else None
        known = not metadata["classes"] or (isinstance(preds, list) and preds and preds[0] in metadata["classes"])
        check(status == 200 and isinstance(preds, list) and len(preds) == 1 and known,
              f"POST /predict -> 200, prediction {preds} ({latency_ms:.1f} ms)", (status, body))
        summary["first_predict_ms"] = round(latency_ms, 2)
        warm = [request(args.port, "POST", "/predict", bodies[i % len(bodies)])[2] for i in range(20)]
        summary["warm_predict_median_ms"] = round(sorted(warm)[len(warm) // 2], 2)

        status, body, _ = request(args.port, "POST", "/predict", b'{"features": [1, 2')
        error = body.get("error", {}) if isinstance(body, dict) else {}
        check(400 <= status < 500 and {"code", "message"} <= set(error),
              f"malformed body -> {status} with an error code and message", (status, body))

        hc = container.healthcheck()
        check(hc.returncode == 0, "the image's HEALTHCHECK command passes", hc.stderr.strip()[-300:])

        probe = container.exec("python", "-c", (
            "import os, pathlib\n"
            "bad = []\n"
            "for d in ('/app', '/app/model', '/opt/venv', '/usr/local/lib/python3.12', '/'):\n"
            "    try:\n"
            "        pathlib.Path(d, '.w').write_text('x'); bad.append(d)\n"
            "    except OSError: pass\n"
            "pathlib.Path('/tmp/.w').write_text('x')\n"
            "print(os.getuid(), os.getgid(), bad)\n"))
        check(probe.returncode == 0 and probe.stdout.split()[:2] == ["10001", "10001"]
              and probe.stdout.rstrip().endswith("[]"),
              "runs as 10001:10001; only /tmp is writable", (probe.stdout + probe.stderr).strip())
        summary["memory_peak_mb"] = container.memory_peak_mb()

    stop_s = container.timings["stop_ms"] / 1e3
    summary["stop_ms"] = round(container.timings["stop_ms"], 1)
    summary["exit_code"] = container.exit_code
    check(container.exit_code == 0, "exit code 0 after SIGTERM", container.exit_code)
    bad = [line for line in container.logs.splitlines() if any(mark in line for mark in BAD_LOG_MARKS)]
    check(not bad, "no errors, tracebacks or crashed workers in the log", "\n" + "\n".join(bad[:12]))
    check(stop_s < max_stop_s,
          f"graceful stop in {stop_s:.1f} s (< {max_stop_s:g} s)",
          f"{stop_s:.1f} s: the workers did not exit on SIGTERM and were waited out; log tail:\n"
          + "\n".join(container.logs.splitlines()[-12:]))
    return summary


def argument_problem(args: argparse.Namespace) -> str | None:
    """Why the arguments cannot run a smoke test, or None; checked before podman is asked anything."""
    if not 0 <= args.port <= 65535:
        return f"--port must be 0 (a free port) to 65535, not {args.port}"
    for flag in ("cpus", "memory_mb", "ready_timeout_s", "max_stop_s"):
        value = getattr(args, flag)
        if value is not None and not (math.isfinite(value) and value > 0):
            return f"--{flag.replace('_', '-')} must be a finite number > 0, not {value}"
    metadata_file = args.model_dir / "metadata.json"
    try:
        metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"--model-dir {args.model_dir}: no metadata.json (register a model with make model or make model-import)"
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        return f"--model-dir {args.model_dir}: cannot read metadata.json: {' '.join(str(exc).split())[:200]}"
    artefacts = metadata.get("artefacts") if isinstance(metadata, dict) else None
    if not (isinstance(artefacts, dict) and isinstance(artefacts.get("source"), dict) and "classes" in metadata):
        return f"--model-dir {args.model_dir}: metadata.json is not a registered model's (no artefacts/classes)"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=HELP.split("\n\n")[0],
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=HELP)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--model-dir", type=Path, default=REPO / "model",
                        help="the registered model the image was built with (its hash and sample rows)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--cpus", type=float, help="CPU cores (default: the k8s Deployment's limit)")
    parser.add_argument("--memory-mb", type=int, help="memory in MiB (default: the k8s Deployment's limit)")
    parser.add_argument("--ready-timeout-s", type=float, default=60.0)
    parser.add_argument("--max-stop-s", type=float, default=None,
                        help="fail if SIGTERM -> exit takes this long (default: GUNICORN_GRACEFUL_TIMEOUT)")
    args = parser.parse_args(argv)
    problem = argument_problem(args)
    if problem:
        print(f"image_smoke.py: error: {problem}", file=sys.stderr)
        return 2
    if args.cpus is None or args.memory_mb is None:
        cpus, memory_mb = k8s_limits()
        args.cpus = cpus if args.cpus is None else args.cpus
        args.memory_mb = memory_mb if args.memory_mb is None else args.memory_mb
    args.port = args.port or free_port()
    try:
        summary = run(args)
    except (SmokeFailure, PodmanStartError, PodmanError) as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, sort_keys=True))
    print("image smoke: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
