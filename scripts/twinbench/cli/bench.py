"""``twinbench bench``: run the scenarios against both targets, write results/<ts>/, render the report.

Why one command: local and deployed targets, the simulation "at your traffic" and the quick
configuration search all read the same measured run. Options, targets, generators and exit
codes are the ``--help`` text (:data:`HELP`); docs/benchmark.md has the walkthrough.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import traceback
from pathlib import Path

from twinserve_support.paths import REPO
from twinserve_support.process.managed import ProcessNotReady

from twinbench.measure.loadgen import LoadGenerator
from twinbench.measure.progress import Progress
from twinbench.measure.scenarios import (
    PROFILES,
    SCENARIOS,
    burst,
    capacity_estimate_rps,
    cold_start,
    profile_dict,
    rate_ladder,
    scalability,
    warm,
)
from twinbench.results import document as results
from twinbench.results import formats
from twinbench.results.documents import BenchResults
from twinbench.results.lifecycle import RunFailed, RunLifecycle
from twinbench.results.run_folder import RunFolder
from twinbench.targets import (
    ContainerTarget,
    LambdaTarget,
    OfflineLambdaError,
    OfflineLambdaTarget,
    RemoteLambdaTarget,
    RemoteTarget,
    Target,
    request_body,
    request_payloads,
)
from twinbench.targets.base import Sign
from twinbench.targets.local_lambda_target import WSGI_PREFIX

HELP = """``twinbench bench``: run the scenarios against both targets, write results/<ts>/, render the report.

Local by default (the emulated Lambda from the unzipped package, gunicorn under the pod's limits);
``--lambda-url`` / ``--container-url`` (or ``LAMBDA_URL`` / ``CONTAINER_URL``) measure deployed
endpoints instead; with ``--lambda-function`` and ``--aws-region`` (``LAMBDA_FUNCTION``, ``AWS_REGION``)
the cold-start scenario forces cold starts on the deployed function and restores its configuration.
``--lambda-runtime offline`` runs serverless-offline instead of the awslambdaric emulator, labelled
"serverless-offline: no init split, no throttling" in every output. Everything it starts is stopped when it returns — also on failure, Ctrl-C and
SIGTERM. Exit codes: 0 done, 1 a scenario failed, 2 bad usage/setup, 130 interrupted.

``--targets lambda,lambda-wsgi,container`` adds the WSGI function (the container's Flask app through
serverless-wsgi, ``wsgi_handler.handler``, served under ``/wsgi``) beside the native handler: the same
package, so the report compares cold start, warm latency and throughput and says which to deploy.

After measuring, the run is replayed "at your traffic" by the trace-driven simulator
(:mod:`twinbench.simulate`) with the measured service times: ``--traffic-rps`` (default: the rate the
cost is quoted at, ``--cost-rps``) as a constant or diurnal profile (``--cost-shape``), or ``--trace``
(a per-minute CSV, simulated as it is). The simulation document is stored in results.json under
``simulation``. Then a quick configuration search (``twinbench recommend --quick``'s grid, bounded by
``--search-budget-s``, default 60 s) finds each platform's cheapest configuration meeting the SLO on
the same traffic and inputs, stored under ``simulation.search``: the report's recommendation
compares the platforms at their best, never ranking on cost one that misses the SLO.

``--generator locust`` drives the open-loop steps (scalability rates, burst) of targets given as URLs
from Locust: a master and ``--locust-workers`` worker processes on this machine, plus any started on
other machines with ``--master-host`` (``--locust-remote-workers``). Cold starts, warm latency and the
closed-loop steps stay on the built-in generator; the report says which generator produced each figure.
"""
"""The ``--help`` text: what it does, step by step, and its exit codes."""

__all__ = ["register", "run"]

TARGET_NAMES = ("lambda", "lambda-wsgi", "container")
DEFAULT_TARGETS = "lambda,container"  # lambda-wsgi is opt-in: it adds ~1/3 to the run (see --help)
GENERATORS = ("builtin", "locust")
EXIT_USAGE = 2
MAX_RAW_REPORTS = 2000


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw and raw.lower() not in {"none", "unlimited"} else None


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="Compare the Lambda and the container: cold start, warm latency, scalability, burst, cost",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  twinbench bench --profile smoke                 # CI-sized, both local targets, <= 3 min\n"
        "  twinbench bench --scenarios warm,scalability    # skip cold start and burst\n"
        "  twinbench bench --lambda-url https://abc.execute-api.us-east-1.amazonaws.com \\\n"
        "                  --container-url http://a1b2.elb.amazonaws.com \\\n"
        "                  --lambda-function twinserve-dev-predict --aws-region eu-west-1  # + forced cold starts\n"
        "  twinbench bench --lambda-runtime offline --targets lambda   # serverless-offline instead of awslambdaric\n",
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default=os.environ.get("PROFILE") or "quick",
                   help="how long: smoke <= 3 min, quick ~5 min (default), full longer  [env PROFILE]")
    p.add_argument("--slo-ms", type=float, default=float(os.environ.get("SLO_MS") or 100),
                   help="latency objective for the knee: p99 must stay under it (default 100)  [env SLO_MS]")
    p.add_argument("--targets", default=os.environ.get("TARGETS") or DEFAULT_TARGETS,
                   help="comma list of lambda,lambda-wsgi,container (default lambda,container; lambda-wsgi = the "
                   "Flask app through serverless-wsgi, same package, opt-in)  [env TARGETS]")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma list of {','.join(SCENARIOS)}")
    p.add_argument("--lambda-url", default=os.environ.get("LAMBDA_URL") or None,
                   help="measure a deployed Lambda (HTTP API / Function URL base) instead of the local one")
    p.add_argument("--container-url", default=os.environ.get("CONTAINER_URL") or None,
                   help="measure a deployed container service instead of the local one")
    p.add_argument("--lambda-wsgi-url", default=os.environ.get("LAMBDA_WSGI_URL") or None,
                   help="measure the deployed WSGI function: the base under which /predict answers (HTTP API: "
                   "<api>/wsgi; a Function URL: its URL). Default with --lambda-url: <lambda-url>/wsgi  [env LAMBDA_WSGI_URL]")
    p.add_argument("--lambda-wsgi-function", default=os.environ.get("LAMBDA_WSGI_FUNCTION") or None,
                   help="the deployed WSGI function's name for forced cold starts (default: --lambda-function + "
                   "'-wsgi', serverless's naming)  [env LAMBDA_WSGI_FUNCTION]")
    p.add_argument("--lambda-function", default=os.environ.get("LAMBDA_FUNCTION") or None,
                   help="with --lambda-url: the deployed function's name; with --aws-region, the cold-start scenario "
                   "forces cold starts through UpdateFunctionConfiguration and restores the config  [env LAMBDA_FUNCTION]")
    p.add_argument("--aws-region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
                   help="region of --lambda-function  [env AWS_REGION, AWS_DEFAULT_REGION]; AWS_ENDPOINT_URL is honoured")
    p.add_argument("--lambda-sigv4", action="store_true", default=os.environ.get("LAMBDA_SIGV4") == "1",
                   help="with --lambda-url: sign every request with SigV4 (an IAM-authenticated Function URL; "
                   "credentials from botocore's default chain, region from the URL or --aws-region)  [env LAMBDA_SIGV4=1]")
    p.add_argument("--lambda-runtime", choices=("awslambdaric", "offline"), default="awslambdaric",
                   help="local Lambda: the project's Runtime API + awslambdaric (default) or serverless-offline 14.8.2 "
                   "via osls (labelled: no init split, no throttling)")
    p.add_argument("--container-runtime", choices=("gunicorn", "podman"), default="gunicorn",
                   help="local container: gunicorn as in the image (default) or the real image under podman")
    p.add_argument("--lambda-package", type=Path, default=REPO / "build" / "lambda" / "pkg",
                   help="unzipped `sls package` output (default build/lambda/pkg)")
    p.add_argument("--model-dir", type=Path, default=Path(os.environ.get("MODEL_PATH") or REPO / "model"),
                   help="model folder whose metadata gives the request row (default $MODEL_PATH or model/)")
    p.add_argument("--out", type=Path, default=REPO / "results", help="parent folder of results/<timestamp>/")
    p.add_argument("--request-timeout-s", type=float, default=10.0, help="per-request client timeout")
    p.add_argument("--max-connections", type=int, default=256, help="client connection pool size per target")
    p.add_argument("--cost-rps", type=float, default=float(os.environ.get("COST_RPS") or 10),
                   help="mean request rate the monthly cost is quoted at (default 10)  [env COST_RPS]")
    p.add_argument("--cost-shape", choices=("constant", "diurnal"), default=os.environ.get("COST_SHAPE") or "constant",
                   help="traffic shape for the cost model (default constant)  [env COST_SHAPE]")
    sim = p.add_argument_group("at your traffic (simulated after the run)")
    sim.add_argument("--traffic-rps", type=float, default=_env_float("TRAFFIC_RPS"),
                     help="mean rate to simulate, req/s (default: --cost-rps), shape --cost-shape  [env TRAFFIC_RPS]")
    sim.add_argument("--trace", type=Path, default=Path(os.environ["TRACE"]) if os.environ.get("TRACE") else None,
                     help="per-minute traffic CSV (minute|timestamp, requests|count|rps) simulated as it is "
                     "(with --traffic-rps: rescaled to that mean)  [env TRACE]")
    sim.add_argument("--no-simulation", action="store_true", help="skip the simulation at your traffic")
    sim.add_argument("--search-budget-s", type=float, default=_env_float("SEARCH_BUDGET_S") or SEARCH_BUDGET_S,
                     help="time for the quick configuration search at your traffic, s (default 60; skipped when "
                     "one simulation of the traffic takes more than a quarter of it)  [env SEARCH_BUDGET_S]")
    sim.add_argument("--no-search", action="store_true",
                     help="simulate the shipped settings only, without the quick configuration search")
    gen = p.add_argument_group("load generator")
    gen.add_argument("--generator", choices=GENERATORS, default=os.environ.get("GENERATOR") or "builtin",
                     help="builtin (default; aiohttp, one process) or locust (targets given as URLs only: master + "
                     "workers drive the open-loop steps)  [env GENERATOR]")
    gen.add_argument("--locust-workers", type=int, default=int(os.environ.get("LOCUST_WORKERS") or 2),
                     help="Locust worker processes on this machine (default 2)  [env LOCUST_WORKERS]")
    gen.add_argument("--locust-remote-workers", type=int, default=int(os.environ.get("LOCUST_REMOTE_WORKERS") or 0),
                     help="workers started on other machines that the master waits for (default 0); start each "
                     "with the command the bench prints  [env LOCUST_REMOTE_WORKERS]")
    gen.add_argument("--locust-bind-host", default=os.environ.get("LOCUST_BIND_HOST") or "127.0.0.1",
                     help="address the Locust master listens on (default 127.0.0.1; another machine's workers "
                     "need an address they reach)  [env LOCUST_BIND_HOST]")
    gen.add_argument("--locust-port", type=int, default=int(os.environ.get("LOCUST_PORT") or 0),
                     help="Locust master port (default: a free one; fix it for remote workers)  [env LOCUST_PORT]")
    p.add_argument("--no-report", action="store_true", help="write results.json only")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=run)


def _split(raw: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [s.strip() for s in raw.split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        raise SystemExit(f"twinbench bench: unknown {what} {bad or raw!r}; choose from {','.join(allowed)}")
    return items


def _lambda_signer(args: argparse.Namespace, url: str | None = None) -> Sign | None:
    """SigV4 for --lambda-sigv4, signed as `twinserve predict --sigv4` signs; exit 2 without credentials/region."""
    if not args.lambda_sigv4:
        return None
    from twinserve.client.errors import UsageError
    from twinserve.client.sigv4 import SigV4Signer

    try:
        return SigV4Signer(url or args.lambda_url, region=args.aws_region, reuse_s=1.0).sign
    except UsageError as exc:
        print(f"twinbench bench: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None


def _build_targets(args: argparse.Namespace, names: list[str], log_dir: Path) -> list[Target]:
    targets: list[Target] = []
    for name in names:
        if name == "lambda-wsgi":
            wsgi_url = args.lambda_wsgi_url or (args.lambda_url.rstrip("/") + WSGI_PREFIX if args.lambda_url else None)
            if wsgi_url:
                function = args.lambda_wsgi_function or (f"{args.lambda_function}-wsgi" if args.lambda_function else None)
                targets.append(RemoteLambdaTarget(wsgi_url, function_name=function, region=args.aws_region,
                                                  sign=_lambda_signer(args, wsgi_url), name="lambda-wsgi"))
            elif args.lambda_runtime == "offline":
                raise SystemExit("twinbench bench: --targets lambda-wsgi runs on the awslambdaric emulator only "
                                 "(not --lambda-runtime offline)")
            else:
                targets.append(LambdaTarget(
                    runtime=args.lambda_runtime, package_dir=args.lambda_package,
                    memory_mb=_env_int("LAMBDA_MEMORY_MB"), reserved_concurrency=_env_int("LAMBDA_RESERVED_CONCURRENCY"),
                    log_dir=log_dir, variant="wsgi"))
        elif name == "lambda":
            if args.lambda_url:
                targets.append(RemoteLambdaTarget(args.lambda_url, function_name=args.lambda_function,
                                                  region=args.aws_region, sign=_lambda_signer(args)))
            elif args.lambda_runtime == "offline":
                targets.append(OfflineLambdaTarget(package_dir=args.lambda_package,
                                                   memory_mb=_env_int("LAMBDA_MEMORY_MB"),
                                                   idle_s=_env_float("LAMBDA_IDLE_S"), log_dir=log_dir))
            else:
                targets.append(LambdaTarget(
                    runtime=args.lambda_runtime, package_dir=args.lambda_package,
                    memory_mb=_env_int("LAMBDA_MEMORY_MB"), reserved_concurrency=_env_int("LAMBDA_RESERVED_CONCURRENCY"),
                    log_dir=log_dir))
        elif args.container_url:
            targets.append(RemoteTarget("container", args.container_url))
        else:
            targets.append(ContainerTarget(runtime=args.container_runtime, log_dir=log_dir))
    return targets


def _summarize_reports(reports: list[dict]) -> dict:
    from twinbench.measure.stats import summarize

    warm = [r for r in reports if r.get("init_duration_ms") is None]
    cold = [r for r in reports if r.get("init_duration_ms") is not None]
    memory = sorted({int(r["memory_size_mb"]) for r in reports if r.get("memory_size_mb")})
    return {
        "n": len(reports),
        "n_cold": len(cold),
        "memory_size_mb": memory[0] if memory else None,
        "billed_duration_warm": summarize([float(r["billed_duration_ms"]) for r in warm]),
        "duration_warm": summarize([float(r["duration_ms"]) for r in warm]),
        "init_duration": summarize([float(r["init_duration_ms"]) for r in cold]),
        "max_memory_used_mb": max((int(r.get("max_memory_used_mb") or 0) for r in reports), default=None),
        "raw": reports[:MAX_RAW_REPORTS],
        "raw_truncated": len(reports) > MAX_RAW_REPORTS,
    }


async def _scenarios(doc: BenchResults, targets: list[Target], args: argparse.Namespace, chosen: list[str],
                     body: bytes, progress: Progress, log_dir: Path | None = None) -> None:
    profile = PROFILES[args.profile]
    slo = args.slo_ms
    out = doc.scenarios
    locust = None
    if args.generator == "locust":
        from twinbench.measure.locust_driver import LocustDriver

        locust = LocustDriver(body, workers=args.locust_workers, remote_workers=args.locust_remote_workers,
                              bind_host=args.locust_bind_host, port=args.locust_port,
                              timeout_s=args.request_timeout_s, log_dir=log_dir)
    async with contextlib.AsyncExitStack() as stack:
        gens = {t.name: await stack.enter_async_context(
            LoadGenerator(t.url, request_payloads(args.model_dir) or body, timeout_s=args.request_timeout_s,
                          max_connections=args.max_connections,
                          sign=t.sign))
            for t in targets}

        def tick(info: dict) -> None:
            progress.update(f"{info['elapsed_s']:.1f}/{info['duration_s']:.0f} s, {info['sent']} sent")

        if "cold" in chosen:
            progress.phase(f"cold start x{profile.cold_n}")
            out["cold_start"] = await cold_start(targets, body, profile.cold_n, progress.update)
            progress.done(", ".join(
                f"{n} median {r['first_response']['median_ms']} ms" if not r.get("skipped") else f"{n} skipped"
                for n, r in out["cold_start"].items()))

        progress.phase(f"warm latency ({profile.warm_n} sequential)")
        warm_n = profile.warm_n if "warm" in chosen else 20
        warm_result = await warm(gens, profile.warmup_n, warm_n, progress.update)
        if "warm" in chosen:
            out["warm"] = warm_result
        progress.done(", ".join(f"{n} median {r['latency']['median_ms']} ms" for n, r in warm_result.items()))

        estimates = {t.name: capacity_estimate_rps(warm_result[t.name]["latency"]["median_ms"],
                                                   t.cpus_effective or 1.0) for t in targets}
        capacity = max((v for v in estimates.values() if v), default=50.0)
        doc.run["capacity_estimate_rps"] = {k: (round(v, 1) if v else None) for k, v in estimates.items()}

        if "scalability" in chosen:
            rates = rate_ladder(capacity, profile.rate_fractions, profile.max_rate_rps)
            doc.run["rate_ladder_rps"] = rates
            progress.phase("scalability")
            prewarm = {t.name: int(t.describe()["config"].get("concurrency_limit") or 4) for t in targets
                       if t.kind == "lambda" and t.mode == "local"}
            out["scalability"] = await scalability(
                gens, rates, profile.rate_step_s, profile.concurrency_levels, profile.concurrency_step_s,
                profile.pause_s, slo, progress.note, tick, prewarm=prewarm, locust=locust)
            progress.done(", ".join(f"{n} knee {r['knee_rps']} rps" for n, r in out["scalability"].items()))

        if "burst" in chosen:
            rate = round(min(profile.max_rate_rps, capacity * profile.burst_fraction), 1)
            progress.phase(f"burst to {rate:g} rps")
            out["burst"] = await burst(targets, gens, rate, profile.burst_idle_s, profile.burst_s, slo,
                                       progress.note, tick, locust=locust)
            progress.done()


def _package_info(args: argparse.Namespace, chosen_targets: list[str]) -> dict | None:
    """Size of the Lambda package this run measured (local Lambda) or last built (remote: may differ)."""
    if "lambda" not in chosen_targets:
        return None
    from twinbench.aws.package_info import package_info

    info = package_info(args.lambda_package)
    if info is not None:
        info["measured"] = not args.lambda_url
        if args.lambda_url:
            info["note"] = "the local build; the deployed function's package may differ"
    return info


SEARCH_BUDGET_S = 60.0
SEARCH_MIN_SIMULATIONS = 4
"""The quick search runs only when this many simulations of the traffic (each as long as the one at
your traffic took) fit in its budget: the shipped settings of both platforms take one, and fewer than
three more leave too few candidates for the result to mean anything."""
SIM_CONSTANT_MINUTES = 60  # a steady rate: an hour settles every keep-alive and HPA window; priced x 730
SIM_DIURNAL_MINUTES = 1440  # a day: the whole sinusoid


def _provenance(inputs: object) -> dict[str, str]:
    """Which simulation input was measured by this run and which is the simulator's default."""
    def label(source: str) -> str:
        return "measured locally" if "scenarios." in source else "default"

    notes = " ".join(inputs.notes)  # type: ignore[attr-defined]
    return {
        "lambda_duration_ms": label(inputs.lambda_duration.source),  # type: ignore[attr-defined]
        "lambda_init_ms": label(inputs.lambda_init.source),  # type: ignore[attr-defined]
        "container_service_ms": label(inputs.container_service.source),  # type: ignore[attr-defined]
        "pod_capacity_rps": "default" if "no container knee" in notes else "measured locally",
        "memory_mb": "default" if "no Lambda memory size" in notes else "measured locally",
        "lambda_keep_alive_s": "default", "lambda_concurrency_limits": "default", "kubernetes_hpa": "k8s/base/hpa.yaml",
        "pod_startup_and_image_pull_s": "default", "node_provisioning_s": "default", "prices": "pinned price table",
    }


def simulate_at_traffic(results_path: Path, *, rps: float | None, shape: str, trace: Path | None) -> dict:
    """Replay the traffic through the simulator with this run's measured inputs.

    Returns ``{"skipped": False, "traffic": ..., "provenance": ..., "document": <twinbench.simulation>}``;
    a simulator error (bad trace, unusable inputs) returns ``{"skipped": True, "reason": ...}`` so
    the measurements are never lost to it.
    """
    from twinbench.simulate import profiles
    from twinbench.simulate.engine import SimulationConfig, simulate
    from twinbench.simulate.errors import SimulationError
    from twinbench.simulate.hpa import load_hpa_spec
    from twinbench.simulate.inputs import inputs_from_results
    from twinbench.simulate.params import KubeParams, LambdaParams

    try:
        if trace is not None:
            profile = profiles.from_minute_csv(trace)
            traffic = {"source": "trace", "trace": str(trace), "rescaled_to_rps": rps}
            if rps is not None:
                profile = profile.scaled_to_mean(rps)
        else:
            assert rps is not None
            if shape == "diurnal":
                profile = profiles.diurnal(rps, minutes=SIM_DIURNAL_MINUTES)
            else:
                profile = profiles.constant(rps, minutes=SIM_CONSTANT_MINUTES)
            traffic = {"source": shape, "rps": rps, "minutes": profile.minutes}
        inputs = inputs_from_results(results_path)
        config = SimulationConfig(
            profile, LambdaParams(memory_mb=inputs.memory_mb), KubeParams(pod_capacity_rps=inputs.pod_capacity_rps),
            load_hpa_spec(REPO / "k8s" / "base" / "hpa.yaml"), inputs.lambda_duration, inputs.lambda_init,
            inputs.container_service, inputs=inputs.describe())
        document = simulate(config).to_document(per_minute=False)
    except (SimulationError, OSError, ValueError) as exc:
        return {"skipped": True, "reason": f"{type(exc).__name__}: {exc}"}
    return {"skipped": False, "traffic": traffic, "provenance": _provenance(inputs), "document": document}


def traffic_argv(results_path: Path, traffic: dict) -> list[str]:
    """``twinbench simulate``/``recommend`` options for the same traffic from this run's measured inputs."""
    argv = ["--from", str(results_path.parent if results_path.suffix == ".json" else results_path)]
    if traffic["source"] == "trace":
        argv += ["--trace", str(traffic["trace"])]
        if traffic.get("rescaled_to_rps") is not None:
            argv += ["--scale", repr(float(traffic["rescaled_to_rps"]))]
    else:
        argv += ["--profile", traffic["source"], "--rps", repr(float(traffic["rps"])),
                 "--minutes", str(int(traffic["minutes"]))]
    return argv


def search_at_traffic(results_path: Path, simulation: dict, *, slo_ms: float, budget_s: float) -> dict:
    """The quick configuration search at the simulated traffic, within ``budget_s`` seconds.

    The same traffic and measured inputs as :func:`simulate_at_traffic`, read as ``twinbench
    recommend --from <this run>`` reads them (the shipped settings are serverless.yml's and
    k8s/base's, concurrency caps included), SLO p99 <= ``slo_ms`` with the default error budget.
    Returns ``{"skipped": False, "command", "budget_s", "elapsed_s", "budget_reached", "document":
    <twinbench.recommendation>}``, or ``{"skipped": True, "reason"}`` when the traffic is too long
    to search in the budget or the search fails (the measurements are never lost to it).
    """
    import time

    from twinbench.cli.simulate import add_arguments, build_config
    from twinbench.recommend.run import quick_search
    from twinbench.simulate.slo import Slo

    one_s = float(simulation["document"]["engine"]["elapsed_s"])
    argv = [*traffic_argv(results_path, simulation["traffic"]), "--slo-ms", f"{slo_ms:g}"]
    command = ["twinbench", "recommend", *argv, "--quick"]
    if one_s * SEARCH_MIN_SIMULATIONS > budget_s:
        return {"skipped": True, "command": command,
                "reason": f"one simulation of this traffic took {one_s:.1f} s: a search needs dozens and would not "
                          f"fit in the {budget_s:g} s budget (raise --search-budget-s, or run the command)"}
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    started = time.perf_counter()
    try:
        rec = quick_search(build_config(parser.parse_args(argv)), Slo(slo_ms), budget_s)
    except Exception as exc:  # noqa: BLE001 - the search must not lose the measurements
        return {"skipped": True, "command": command, "reason": f"search failed: {type(exc).__name__}: {exc}"}
    platforms = rec.doc["platforms"].values()
    return {"skipped": False, "command": command, "budget_s": budget_s,
            "elapsed_s": round(time.perf_counter() - started, 2),
            "budget_reached": any(p["search"]["budget_reached"] for p in platforms), "document": rec.doc}


def _collect_warnings(doc: dict) -> list[str]:
    warnings: list[str] = []
    scal = doc["scenarios"].get("scalability", {})
    for name, res in scal.items():
        bound = [s for s in res["rate_steps"] + res["concurrency_steps"] if s["generator"]["bottleneck"]]
        if bound:
            labels = [f"{s.get('offered_rps', '')}{' rps' if 'offered_rps' in s else 'c=' + str(s.get('concurrency'))}"
                      for s in bound]
            worst_lag = max(s["generator"]["send_lag_p99_ms"] for s in bound)
            worst_cpu = max(s["generator"]["cpu_fraction"] for s in bound)
            warnings.append(f"{name}: the load generator, not the target, limited {len(bound)} step(s) "
                            f"({', '.join(labels)}): p99 send lag up to {worst_lag:.0f} ms, generator CPU up to "
                            f"{worst_cpu:.0%} of a core; latency there includes the generator's delay")
    for name, res in doc["scenarios"].get("burst", {}).items():
        if res["generator"]["bottleneck"]:
            warnings.append(f"{name}: the load generator was the bottleneck during the burst")
    for name, res in doc["scenarios"].get("cold_start", {}).items():
        if res.get("error"):
            warnings.append(f"{name}: {res['reason']}")
        if not res.get("skipped") and res.get("n_unknown_cold_flag"):
            warnings.append(f"{name}: {res['n_unknown_cold_flag']} cold-start sample(s) dropped: no cold header")
        if not res.get("skipped") and res.get("config_restored") is False:
            warnings.append(f"{name}: the function's configuration may NOT have been restored; check it")
        if not res.get("skipped") and res["n_dropped_misclassified"]:
            warnings.append(f"{name}: {res['n_dropped_misclassified']} cold-start sample(s) dropped: "
                            "the handler said the environment was warm")
        if not res.get("skipped") and res["n_failed"]:
            warnings.append(f"{name}: {res['n_failed']} cold-start sample(s) failed")
    for name, res in doc["scenarios"].get("warm", {}).items():
        from twinbench.measure.stats import relative_ci_width

        width = relative_ci_width(res["latency"])
        if width is not None and width > 0.2:
            warnings.append(f"{name}: warm median unstable (95 % CI spans {width:.0%} of it)")
    load = doc["environment"].get("load_average_1_5_15")
    cores = doc["environment"].get("cpu_count") or 1
    if load and load[0] > 0.5 * cores:
        warnings.append(f"machine was busy before the run (1-min load average {load[0]} on {cores} cores)")
    for target in doc["targets"].values():
        for note in target.get("notes", []):
            if "NOT applied" in note:
                warnings.append(f"{target['name']}: {note}")
    return warnings


def _check_generator(args: argparse.Namespace, chosen_targets: list[str]) -> str | None:
    """Why this generator cannot drive these targets (one line), or None."""
    if args.generator != "locust":
        return None
    urls = {"lambda": args.lambda_url, "lambda-wsgi": args.lambda_wsgi_url or args.lambda_url,
            "container": args.container_url}
    local = [t for t in chosen_targets if not urls[t]]
    if local:
        return (f"--generator locust drives targets given as URLs; {', '.join(local)} would run locally (give "
                f"{', '.join('--' + t + '-url' for t in local)}, or use the built-in generator for local runs)")
    if args.lambda_sigv4:
        return "--generator locust does not sign requests: use the built-in generator with --lambda-sigv4"
    if args.locust_workers < 0 or args.locust_remote_workers < 0 or args.locust_workers + args.locust_remote_workers < 1:
        return "--locust-workers + --locust-remote-workers must be >= 1"
    from twinbench.measure.locust_driver import LOCUST_VERSION, locust_available

    if locust_available() is None:
        return f"--generator locust: locust is not installed (pip install locust=={LOCUST_VERSION})"
    return None


def _model_summary(model_dir: Path) -> dict[str, object]:
    """Which model was measured, what served it and where the payload came from (the report's header)."""
    try:
        meta = json.loads((model_dir / "metadata.json").read_text())
        samples = json.loads((model_dir / meta["artefacts"]["samples"]["path"]).read_text()) \
            if "samples" in meta.get("artefacts", {}) else {}
    except (OSError, ValueError, KeyError) as exc:
        return {"error": f"cannot read {model_dir}: {exc}"}
    return {"name": meta.get("name"), "estimator": meta.get("estimator"), "task": meta.get("task", "classification"),
            "backend": "onnxruntime" if meta.get("artefacts", {}).get("serving") else "scikit-learn",
            "payload_source": samples.get("source", "example_row"), "sample_rows": len(samples.get("rows", []))}


def run(args: argparse.Namespace) -> int:
    chosen_targets = _split(args.targets, TARGET_NAMES, "target")
    chosen = _split(args.scenarios, SCENARIOS, "scenario")
    problem = _check_generator(args, chosen_targets)
    if problem is None and args.traffic_rps is not None and not (args.traffic_rps > 0 and args.traffic_rps < 1e6):
        problem = f"--traffic-rps must be > 0 and < 1e6, got {args.traffic_rps}"
    if problem is None and not (args.search_budget_s > 0 and args.search_budget_s <= 3600):
        problem = f"--search-budget-s must be > 0 and <= 3600, got {args.search_budget_s}"
    if problem is None and args.trace is not None and not args.trace.is_file():
        problem = f"--trace {args.trace}: no such file"
    if problem is not None:
        print(f"twinbench bench: {problem}", file=sys.stderr)
        return EXIT_USAGE
    progress = Progress(quiet=args.quiet)
    try:
        body = request_body(args.model_dir)
    except FileNotFoundError as exc:
        print(f"twinbench bench: {exc}", file=sys.stderr)
        return 2
    with RunFolder(formats.RESULTS, root=args.out, logs=True) as folder:
        exit_code, data, path = _measure(folder, args, chosen_targets, chosen, body, progress)
    # Rendering is a view of the data on disk: outside the run's signal handling, like before.
    if not args.no_report:
        from twinbench.report.markdown import render_folder, summary_table

        try:
            render_folder(folder.path, data)
        except Exception as exc:  # the data is safe on disk; say what failed
            print(f"twinbench bench: report rendering failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            exit_code = exit_code or 1
        print(summary_table(data))
    for warning in data["warnings"]:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(f"results: {path}" + ("" if args.no_report else f"\nreport:  {folder.path / 'report.md'}"))
    return exit_code


def _measure(folder: RunFolder, args: argparse.Namespace, chosen_targets: list[str], chosen: list[str],
             body: bytes, progress: Progress) -> tuple[int, dict, Path]:
    """Run the scenarios, write results.json into ``folder`` (partial and marked when interrupted).

    Returns the exit code so far, the document as written and its path.
    """
    doc = BenchResults(run={
        "id": folder.path.name,
        "argv": sys.argv,
        "profile": profile_dict(PROFILES[args.profile]),
        "settings": {
            "profile": args.profile, "slo_ms": args.slo_ms, "targets": chosen_targets, "scenarios": chosen,
            "lambda_url": args.lambda_url, "container_url": args.container_url,
            "lambda_function": args.lambda_function, "aws_region": args.aws_region,
            "aws_endpoint_url": os.environ.get("AWS_ENDPOINT_URL") or None,
            "lambda_runtime": args.lambda_runtime, "container_runtime": args.container_runtime,
            "lambda_package": str(args.lambda_package), "model_dir": str(args.model_dir),
            "request_timeout_s": args.request_timeout_s, "cost_rps": args.cost_rps, "cost_shape": args.cost_shape, "max_connections": args.max_connections,
            "request_body_bytes": len(body),
            "model": _model_summary(args.model_dir),
            "traffic_rps": args.traffic_rps, "trace": str(args.trace) if args.trace else None,
            "generator": args.generator, "locust_workers": args.locust_workers if args.generator == "locust" else None,
            "lambda_wsgi_url": args.lambda_wsgi_url,
            "env": {k: os.environ[k] for k in sorted(os.environ)
                    if k.startswith(("LAMBDA_", "WEB_CONCURRENCY", "GUNICORN_", "MODEL_PATH", "SLO_MS", "PROFILE"))},
        },
    })
    environment = {**folder.environment, "lambda_package": _package_info(args, chosen_targets)}
    lifecycle = RunLifecycle(folder, run=doc.run, note=progress.note, keep_going=True,
                             interrupted_note="interrupted: everything started was stopped; partial results kept")
    with lifecycle:
        try:
            targets = _build_targets(args, chosen_targets, folder.logs)
            with contextlib.ExitStack() as stack:
                for target in targets:
                    progress.phase(f"starting {target.name} ({target.mode}, {target.runtime})")
                    stack.enter_context(target)
                    progress.done(target.url)
                for target in targets:
                    doc.targets[target.name] = target.describe()
                try:
                    asyncio.run(_scenarios(doc, targets, args, chosen, body, progress, folder.logs))
                finally:
                    for target in targets:
                        reports = target.lambda_reports()
                        if reports:
                            doc.lambda_reports[target.name] = _summarize_reports(reports)
                        doc.targets[target.name] = target.describe()
                progress.phase("stopping targets")
            progress.done()
        except OfflineLambdaError as exc:  # a missing prerequisite
            raise RunFailed(f"--lambda-runtime offline: {exc}", exit_code=2) from exc
        except ProcessNotReady as exc:  # a target that did not start
            raise RunFailed(f"a target did not start: {exc}", exit_code=2) from exc
    exit_code = lifecycle.exit_code
    if lifecycle.status == "ok" and any(r.get("error") for r in doc.scenarios.get("cold_start", {}).values()):
        exit_code = 1  # the other scenarios ran; the failed one is in results.json and the warnings
    document = folder.document(doc, environment=environment)
    try:
        from twinbench.cost.from_results import cost_section

        doc.cost = cost_section(document.to_dict(), args.cost_rps, args.cost_shape)
    except Exception as exc:  # the cost model must not lose the measurements
        doc.cost = {"skipped": True, "reason": f"cost model failed: {type(exc).__name__}: {exc}"}
    doc.warnings = _collect_warnings(document.to_dict())
    path = folder.write(document)
    if not args.no_simulation and doc.run["status"] != "interrupted":
        progress.phase("simulating at your traffic")
        doc.simulation = simulate_at_traffic(path, rps=args.traffic_rps if args.traffic_rps is not None
                                             else (None if args.trace else args.cost_rps),
                                             shape=args.cost_shape, trace=args.trace)
        progress.done("skipped: " + doc.simulation["reason"] if doc.simulation["skipped"] else
                      f"{doc.simulation['document']['engine']['elapsed_s']:.1f} s")
        if not doc.simulation["skipped"] and not args.no_search:
            progress.phase(f"best configuration at your traffic (quick search, <= {args.search_budget_s:g} s)")
            search = search_at_traffic(path, doc.simulation, slo_ms=args.slo_ms, budget_s=args.search_budget_s)
            doc.simulation["search"] = search
            progress.done("skipped: " + search["reason"] if search["skipped"] else f"{search['elapsed_s']:.1f} s")
        path = folder.write(document)
    data = document.to_dict()
    try:
        results.validate(data)
    except results.ResultsError as exc:
        print(f"twinbench bench: {exc}", file=sys.stderr)
        exit_code = exit_code or 1
    return exit_code, data, path
