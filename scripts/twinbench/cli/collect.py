"""``twinbench collect-cloudwatch`` / ``twinbench collect-kubectl``: provider-side figures as JSON.

Thin adapters: parse arguments, build clients / the kubectl target, call the core
(:mod:`twinbench.collect.cloudwatch`, :mod:`twinbench.collect.kubectl`), write the document, map the
core's errors to a one-line message and a non-zero exit code here and nowhere else.

Exit codes: 0 written (warnings, e.g. an empty window, go to stderr and into ``warnings``);
2 a problem the user can fix (permissions, missing log group, no cluster), message on stderr;
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from twinserve.cli_parser import OneLineParser

from twinbench.cli.arg_types import positive_float, positive_int

EXIT_OK = 0
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_CODES = ("exit codes: 0 written (warnings on stderr), 2 bad input or a problem you can fix "
              "(one line on stderr), 130 interrupted.")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``collect-cloudwatch`` and ``collect-kubectl`` to the twinbench CLI."""
    _add_cloudwatch(subparsers)
    _add_kubectl(subparsers)


def _non_empty(text: str) -> str:
    """A name that is not blank: AWS and kubectl would answer an empty one with a stack of their own."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


_DURATION = re.compile(r"^0$|^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")


def _kubectl_duration(text: str) -> str:
    """kubectl's --request-timeout: a Go duration (20s, 1m30s) or 0 for none; checked before kubectl runs."""
    if not _DURATION.match(text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 20s, 1m or 0 (no timeout)")
    return text.strip()


# ----------------------------------------------------------------------------------------------
# CloudWatch


def _add_cloudwatch(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "collect-cloudwatch",
        help="Lambda + HTTP API metrics and parsed REPORT lines for a time window, as JSON",
        description="Collect what AWS measured for one Lambda function in a window: CloudWatch metrics "
        "(Invocations, Errors, Throttles, ConcurrentExecutions, Duration p50/p90/p99; HTTP API Count, 4xx, "
        "5xx, Latency, IntegrationLatency with --api-id) and every REPORT line from its log group (cold "
        "starts, Init Duration, billed GB-s and their cost). Uses the normal boto3 credential chain and "
        "honours AWS_ENDPOINT_URL. Read-only: needs cloudwatch:GetMetricData, logs:FilterLogEvents and "
        "(optional) lambda:GetFunctionConfiguration.",
        epilog="examples:\n"
        "  twinbench collect-cloudwatch --function-name twinserve-dev-predict --region eu-west-1 "
        "--since-minutes 30 --output results/cloudwatch.json\n"
        "  twinbench collect-cloudwatch --function-name f --start 2026-01-31T14:00:00Z "
        "--end 2026-01-31T14:20:00Z --api-id a1b2c3d4e5 --api-stage '$default'\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--function-name", required=True, type=_non_empty, help="Lambda function name (not the ARN)")
    p.add_argument("--region", default=None, help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / profile)")
    p.add_argument("--start", help="window start, ISO 8601 (naive = UTC)")
    p.add_argument("--end", help="window end, ISO 8601 (default: now)")
    p.add_argument("--since-minutes", type=positive_float, help="window = the last N minutes before --end/now")
    p.add_argument("--api-id", help="HTTP API id, to add API Gateway Count/4xx/5xx/Latency metrics")
    p.add_argument("--api-stage", help="HTTP API stage dimension (e.g. '$default'); omit for all stages")
    p.add_argument("--architecture", choices=("x86_64", "arm64"),
                   help="price as this architecture (default: read from the function configuration)")
    p.add_argument("--log-group", help="log group (default: the function's LoggingConfig or /aws/lambda/NAME)")
    p.add_argument("--period-s", type=positive_int, default=60, help="metric series resolution in s (default 60)")
    p.add_argument("--page-limit", type=positive_int, default=None, help="log events per FilterLogEvents page")
    p.add_argument("--prices", type=Path, default=None, help="prices.json to price GB-s with")
    p.add_argument("--output", "-o", type=Path, default=None, help="write the JSON here (default: stdout)")
    p.set_defaults(func=run_cloudwatch)
    return p


def run_cloudwatch(args: argparse.Namespace) -> int:
    from twinbench.collect import cloudwatch as cw

    try:
        _check_output(args.output, "collect-cloudwatch")
    except OutputError as exc:
        return _fail(str(exc), EXIT_USER_ERROR)
    try:
        start, end = cw.resolve_window(args.start, args.end, args.since_minutes)
        import boto3
        import botocore.config

        region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        session = boto3.session.Session(region_name=region)
        if not session.region_name:
            raise cw.CloudWatchCollectorError("no AWS region: pass --region or set AWS_REGION")
        config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 5})
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        _progress(f"collect-cloudwatch: {args.function_name} in {session.region_name}, "
                  f"{start.isoformat()} .. {end.isoformat()}")
        doc = cw.collect(
            cloudwatch=session.client("cloudwatch", config=config),
            logs=session.client("logs", config=config),
            lambda_client=session.client("lambda", config=config),
            function_name=args.function_name,
            region=session.region_name,
            start=start,
            end=end,
            api_id=args.api_id,
            api_stage=args.api_stage,
            architecture=args.architecture,
            log_group=args.log_group,
            period_s=args.period_s,
            page_limit=args.page_limit,
            prices_path=args.prices,
            endpoint_url=endpoint,
            boto3_version=boto3.__version__,
        )
    except cw.CloudWatchCollectorError as exc:
        return _fail(f"collect-cloudwatch: {exc}", exc.exit_code)
    except Exception as exc:
        mapped = cw.map_aws_error(exc, "(see message)", "AWS")
        if isinstance(mapped, cw.CloudWatchCollectorError):
            return _fail(f"collect-cloudwatch: {mapped}", mapped.exit_code)
        raise
    r = doc["reports"]
    _progress(
        f"collect-cloudwatch: {r['count']} REPORT lines ({r['cold_start_count']} cold) in {r['log_pages']} "
        f"page(s); {doc['lambda_metrics']['invocations_count']:.0f} invocations; "
        f"{r['billed_gb_s_total']:.3f} GB-s = ${doc['cost']['total_usd']:.6f}"
    )
    _write(doc, args.output)
    return _warn(doc)


# ----------------------------------------------------------------------------------------------
# kubectl


def _add_kubectl(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "collect-kubectl",
        help="Pod startup phases, restarts, top CPU/memory, HPA replicas and events (+ --watch timeline), as JSON",
        description="Collect what Kubernetes recorded for the container deployment by running the pinned "
        "kubectl with -o json: per-pod startup phases (created -> scheduled -> initialized -> containers "
        "ready -> ready), restarts and termination reasons, CPU/memory from metrics.k8s.io (what "
        "`kubectl top` shows), HPA current/desired replicas and scaling events. With --watch, also sample "
        "the replica count every --interval-s until SIGINT/SIGTERM or --duration-s, then write.",
        epilog="examples:\n"
        "  twinbench collect-kubectl --namespace twinserve-dev --selector app.kubernetes.io/name=twinserve-predict "
        "--since 1h --output results/kubectl.json\n"
        "  twinbench collect-kubectl --context kind-twinserve --namespace twinserve-dev --selector app.kubernetes.io/name=twinserve-predict "
        "--watch --interval-s 2 --output results/kubectl-watch.json &   # stop with kill -INT\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--namespace", "-n", required=True, type=_non_empty)
    p.add_argument("--selector", "-l", required=True, type=_non_empty, help="label selector of the serving pods, e.g. app=predict")
    p.add_argument("--context", default=None, help="kubeconfig context (default: current context)")
    p.add_argument("--since", default="1h", help="only events newer than this (30s, 15m, 2h; default 1h)")
    p.add_argument("--kubectl", default=None, help="kubectl binary (default: $TWINBENCH_KUBECTL, .venv-tools, PATH)")
    p.add_argument("--request-timeout", default="20s", type=_kubectl_duration, help="kubectl --request-timeout (default 20s)")
    p.add_argument("--watch", action="store_true", help="sample a replica timeline until stopped, then collect")
    p.add_argument("--interval-s", type=positive_float, default=2.0, help="--watch sampling interval in s (default 2)")
    p.add_argument("--duration-s", type=positive_float, default=None, help="--watch stops by itself after this many s")
    p.add_argument("--output", "-o", type=Path, default=None, help="write the JSON here (default: stdout)")
    p.set_defaults(func=run_kubectl)
    return p


def parse_since(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``1d`` or plain seconds → seconds. Raises ValueError."""
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be finite and > 0")
    return value


def run_kubectl(args: argparse.Namespace) -> int:
    from twinbench.collect import kubectl as km

    try:
        _check_output(args.output, "collect-kubectl")
    except OutputError as exc:
        return _fail(str(exc), EXIT_USER_ERROR)
    try:
        since_s = parse_since(args.since)
    except ValueError:
        return _fail(f"collect-kubectl: --since {args.since!r}: use e.g. 30s, 15m, 2h", EXIT_USER_ERROR)
    try:
        target = km.KubectlTarget(
            namespace=args.namespace,
            selector=args.selector,
            context=args.context,
            kubectl=km.find_kubectl(args.kubectl),
            request_timeout=args.request_timeout,
        )
        timeline = None
        if args.watch:
            stop = threading.Event()
            previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                _progress(f"collect-kubectl: watching {args.namespace}/{args.selector} every {args.interval_s}s "
                          "(SIGINT/SIGTERM to stop)")
                timeline = km.watch(
                    target,
                    interval_s=args.interval_s,
                    duration_s=args.duration_s,
                    should_stop=stop.is_set,
                    on_sample=lambda s: _progress(
                        f"  t={s['t_s']:7.1f}s pods {s['pods_ready']}/{s['pods_total']} ready"
                    ),
                )
            finally:
                for s, h in previous.items():
                    signal.signal(s, h)
        doc = km.collect(target, since_s=since_s, timeline=timeline)
    except km.KubectlError as exc:
        return _fail(f"collect-kubectl: {exc}", exc.exit_code)
    s = doc["pods_summary"]
    _progress(f"collect-kubectl: {s['count']} pods ({s['ready_count']} ready, {s['restarts_total']} restarts), "
              f"{len(doc['hpas'])} HPA(s)")
    _write(doc, args.output)
    return _warn(doc)


# ----------------------------------------------------------------------------------------------
# Shared


def _write(doc: dict[str, Any], output: Path | None) -> None:
    from twinbench.results.run_folder import clean_json, write_json_atomic

    if output is None:
        sys.stdout.write(json.dumps(clean_json(doc), indent=2, allow_nan=False) + "\n")
        return
    write_json_atomic(doc, output, indent=2)  # never leave a half-written document for the report to read
    _progress(f"wrote {output}")


def _check_output(output: Path | None, command: str) -> None:
    """Refuse an --output that cannot be written before collecting, not after: raises OutputError.

    Nothing is created here (a missing folder is made when the document is written); only a
    directory in its place, or a file where a folder of its path should be, is refused.
    """
    if output is None:
        return
    if output.is_dir():
        raise OutputError(f"{command}: cannot write --output {output}: it is a directory")
    ancestor = output.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{command}: cannot write --output {output}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK):
        raise OutputError(f"{command}: cannot write --output {output}: {ancestor} is not writable")


class OutputError(Exception):
    """An --output path that is a directory or lies in a missing folder (exit 2)."""


def _warn(doc: dict[str, Any]) -> int:
    for w in doc.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main_cloudwatch(argv: list[str] | None = None) -> int:
    """Entry point of ``scripts/collect_cloudwatch.py``."""
    return _standalone("collect-cloudwatch", argv)


def main_kubectl(argv: list[str] | None = None) -> int:
    """Entry point of ``scripts/collect_kubectl.py``."""
    return _standalone("collect-kubectl", argv)


def _standalone(command: str, argv: list[str] | None) -> int:
    sub = OneLineParser().add_subparsers()
    register(sub)
    parser = sub.choices[command]
    parser.prog = f"scripts/{command.replace('-', '_')}.py"
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return _fail(f"{command}: interrupted", EXIT_INTERRUPTED)
