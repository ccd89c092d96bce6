"""``python -m twinbench serve-lambda``: the local Lambda in the foreground, or its overhead figure.

Serves the unzipped ``sls package`` output (what is measured is what ships) behind an HTTP API
front: one real ``awslambdaric`` process per execution environment, Init Duration split out,
HTTP 429 above the reserved concurrency, idle environments reaped, memory/1769 vCPU per
environment through a cgroup when the machine allows it. Prints Lambda's log lines (INIT_START,
START, the function's output, END, REPORT) to stdout; Ctrl-C or SIGTERM stops every runtime.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
from pathlib import Path

from twinbench.cli.arg_types import non_negative_int, port_number, positive_int
from twinbench.local_lambda.settings import (
    DEFAULT_PACKAGE_DIR,
    DEFAULT_PYTHON,
    ENV_IDLE_S,
    ENV_MEMORY_MB,
    ENV_PARAMS,
    ENV_RESERVED_CONCURRENCY,
    ENV_STAGE,
    ENV_TIMEOUT_S,
    LambdaSettings,
)

DEFAULT_PORT = 9000


def _key_value(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {raw!r}")
    return key, value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve-lambda",
        help="run the local Lambda (awslambdaric per environment + HTTP API front) in the foreground",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Defaults come from the environment: "
            f"{ENV_MEMORY_MB} and {ENV_TIMEOUT_S} (else the function's memorySize and timeout as "
            f"serverless.yml resolves them at ${ENV_STAGE} (dev) with ${ENV_PARAMS}, e.g. 'memoryMb=512 arch=arm64'), "
            f"{ENV_RESERVED_CONCURRENCY} (unset = no cap but the account's), {ENV_IDLE_S} (300). "
            "Flags override them.\n\n"
            "Examples:\n"
            "  python -m twinbench serve-lambda --package build/lambda/pkg --port 9000\n"
            "  LAMBDA_RESERVED_CONCURRENCY=2 python -m twinbench serve-lambda\n"
            "  python -m twinbench serve-lambda --overhead -n 500   # emulator's own warm overhead\n\n"
            "exit codes: 0 stopped by Ctrl-C/SIGTERM (or --overhead measured), 1 the runtime could not start "
            "(or the measurement failed), 2 bad input (one line on stderr)."
        ),
    )
    parser.add_argument("--package", type=Path, default=None,
                        help=f"unzipped Lambda package directory (default: {DEFAULT_PACKAGE_DIR}; "
                        "with --overhead: a built-in echo function)")
    parser.add_argument("--handler", default="handler.handler", help="module.function (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="address of the HTTP front (default: %(default)s)")
    parser.add_argument("--port", type=port_number, default=None,
                        help=f"port of the HTTP front (default: $PORT or {DEFAULT_PORT})")
    parser.add_argument("--memory-mb", type=int, default=None, help=f"Memory Size in MB (default: ${ENV_MEMORY_MB})")
    parser.add_argument("--reserved-concurrency", type=int, default=None,
                        help=f"cap on environments; above it HTTP 429 (default: ${ENV_RESERVED_CONCURRENCY})")
    parser.add_argument("--idle-s", type=float, default=None, help=f"keep-alive of an idle environment, s (default: ${ENV_IDLE_S})")
    parser.add_argument("--timeout-s", type=float, default=None, help=f"function timeout, s (default: ${ENV_TIMEOUT_S})")
    parser.add_argument("--python", type=Path, default=DEFAULT_PYTHON,
                        help="Python 3.12 with awslambdaric, the runtime's interpreter (default: %(default)s)")
    parser.add_argument("--env", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                        help="function environment variable (repeatable)")
    parser.add_argument("--no-cpu-quota", action="store_true", help="do not apply memory/1769 vCPU through a cgroup")
    parser.add_argument("--quiet", action="store_true", help="print only REPORT lines, not the function's output")
    overhead = parser.add_argument_group("overhead figure")
    overhead.add_argument("--overhead", action="store_true",
                          help="instead of serving: measure warm invoke through the emulator vs the handler in-process")
    overhead.add_argument("-n", "--requests", type=positive_int, default=300, help="measured warm requests (default: %(default)s)")
    overhead.add_argument("--warmup", type=non_negative_int, default=30, help="discarded warm-up requests (default: %(default)s)")
    overhead.add_argument("--method", default="GET", help="request method (default: %(default)s)")
    overhead.add_argument("--path", default="/", help="request path (default: %(default)s)")
    overhead.add_argument("--body", default="", help="request body, sent as application/json")
    overhead.add_argument("--json", type=Path, default=None, help="also write the overhead result to this JSON file")
    parser.set_defaults(func=run)


def _port(args: argparse.Namespace) -> int:
    """--port, else $PORT, else DEFAULT_PORT; a $PORT that is not a port is a ValueError naming it."""
    if args.port is not None:
        return int(args.port)
    try:
        return port_number(os.environ.get("PORT") or str(DEFAULT_PORT))
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"PORT={os.environ.get('PORT')!r}: {exc}") from None


def _settings(args: argparse.Namespace) -> LambdaSettings:
    return LambdaSettings.from_env(
        args.package or DEFAULT_PACKAGE_DIR, handler=args.handler, host=args.host, port=_port(args), python=args.python,
        memory_mb=args.memory_mb, reserved_concurrency=args.reserved_concurrency,
        idle_s=args.idle_s, timeout_s=args.timeout_s, env=dict(args.env),
        cpu_quota=False if args.no_cpu_quota else None,
    )


def run(args: argparse.Namespace) -> int:
    if args.overhead:
        from twinbench.local_lambda.overhead import run_overhead

        return run_overhead(args)
    try:
        settings = _settings(args)
    except ValueError as exc:
        print(f"serve-lambda: {exc}", file=sys.stderr)
        return 2
    if not settings.package_dir.is_dir():
        print(f"serve-lambda: package directory {settings.package_dir} does not exist "
              "(build it first: the unzipped `sls package` output)", file=sys.stderr)
        return 2
    return serve(settings, quiet=args.quiet)


class _ReportOnly:
    """A stream that passes only REPORT lines (``--quiet``)."""

    def write(self, text: str) -> int:
        if text.startswith("REPORT "):
            sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()


def serve(settings: LambdaSettings, *, quiet: bool = False) -> int:
    """Serve until SIGINT/SIGTERM; returns 0 after a clean stop, 1 if startup failed."""
    from twinbench.local_lambda import LocalLambda

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    lam = LocalLambda(settings.package_dir, settings=settings, log_stream=_ReportOnly() if quiet else sys.stdout)
    try:
        try:
            lam.start()
        except (OSError, RuntimeError) as exc:
            print(f"serve-lambda: cannot start: {exc}", file=sys.stderr)
            return 1
        # Every request crosses this one process, so a long collection here queues requests that
        # then reach the environments at once (429s above the cap). What start-up built lives as
        # long as the process: freezing it keeps full collections down to what requests allocate.
        gc.freeze()
        quota = lam.stats()["cpu_quota"]
        cap = settings.reserved_concurrency if settings.reserved_concurrency is not None else \
            f"none (account cap {settings.account_concurrency})"
        print(f"serve-lambda: {lam.url}  package={settings.package_dir} handler={settings.handler} "
              f"memory={settings.memory_mb} MB reserved_concurrency={cap} idle_s={settings.idle_s:g} "
              f"timeout_s={settings.timeout_s:g}\n"
              f"serve-lambda: CPU quota {settings.vcpu:.3f} vCPU per environment: {quota['detail']}\n"
              "serve-lambda: Ctrl-C stops every execution environment", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
        print("serve-lambda: stopping", file=sys.stderr, flush=True)
        return 0
    finally:
        lam.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
