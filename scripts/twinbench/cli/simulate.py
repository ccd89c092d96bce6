"""``twinbench simulate``: replay a traffic profile request by request on Lambda and on Kubernetes.

A thin adapter: parse options, build the profile and parameters, call ``engine.simulate``,
print. Every SimulationError becomes one line on stderr and exit code 2, here and only here.
Runnable alone as ``python -m twinbench.cli.simulate``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from twinserve.cli_parser import OneLineParser
from twinserve_support.lambda_caps import ACCOUNT_CONCURRENCY_DEFAULT, deployed_caps

from twinbench.simulate import engine, profiles
from twinbench.simulate.errors import OutputError, ParameterError, ProfileError, SimulationError
from twinbench.simulate.hpa import load_hpa_spec
from twinbench.simulate.inputs import default_inputs, inputs_from_results
from twinbench.simulate.overlay import read_lambda_params, read_overlay_pod
from twinbench.simulate.params import (
    NODE_PROVISIONERS,
    KubeParams,
    LambdaParams,
    OneSidedCosts,
    ServiceTime,
    check_finite,
)
from twinbench.simulate.slo import Slo

EXIT_BAD_INPUT = 2
from twinserve_support.paths import REPO  # noqa: E402

DEFAULT_HPA = REPO / "k8s" / "base" / "hpa.yaml"

EPILOG = """\
what it does:
  Each request of the profile gets an arrival time (Poisson inside each minute, seeded) and a
  service time drawn from the measured distribution; the same arrivals then run through
    Lambda      execution environments kept warm --keep-alive-s after their last request,
                most-recently-used reuse, 1,000 new environments per 10 s (token bucket),
                HTTP API route throttling and the concurrency limit -> 429 (not billed),
                provisioned concurrency, INIT billed on cold starts;
    Kubernetes  the HPA read from k8s/base/hpa.yaml (15-s sync, tolerance 0.1, metrics 15 s
                late, behaviour policies and stabilisation windows), pod start-up, image pull,
                node provisioning, round-robin over ready pods, per-pod FIFO queues in front of
                --workers workers, 503 past --queue-limit waiting requests.
  It prints requests, cold starts, 429/503s, latency p50/p99/p99.9, peak environments,
  replicas and nodes, and the monthly cost from the simulated billed GB-s and node-hours.
  With --slo-ms a platform that misses the SLO (latency at --slo-pct, or more than
  --error-budget of requests unserved) is marked and its cost is not comparable; without it,
  any 429/503 count stands beside the cost. The costs include what one side alone pays: NAT
  gateway and public IPv4 (EKS), CloudWatch Logs ingestion (Lambda), SnapStart cache/restores.
  `twinbench recommend` searches the settings of both platforms for the cheapest meeting an SLO.

examples:
  python -m twinbench.cli.simulate --profile constant --rps 50 --minutes 60
  python -m twinbench.cli.simulate --trace traffic.csv --from results/20261202T101500Z --plot sim.png
  python -m twinbench.cli.simulate --azure invocations_per_function_md.anon.d01.csv --function rank:3
  python -m twinbench.cli.simulate --azure day1.csv --jobs 2 --top 8 --json   # 8 busiest, 2 processes
  python -m twinbench.cli.simulate --bench     # one day at 1,000 req/s: prints seconds and peak RSS

trace CSV: a header with a time column (minute | timestamp, ISO 8601 with zone) and a volume
column (requests | count | rps); minutes with no row are idle (a warning says how many); a
UTF-8 BOM is fine. The trace is simulated as it is: --scale RPS rescales it only when given.
exit codes: 0 done, 2 bad input (one line on stderr).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="Per-request simulation of a traffic profile on Lambda and Kubernetes: cold starts, 429/503s, "
        "latency, scaling and monthly cost",
        description="Replay a traffic profile (constant, diurnal, per-minute CSV, Azure Functions trace) request "
        "by request on a model of AWS Lambda and of a Kubernetes deployment autoscaled by its HPA, using the "
        "service times make bench measured, and price what happened.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    t = parser.add_argument_group("traffic")
    t.add_argument("--profile", choices=("constant", "diurnal", "csv", "azure"),
                   help="shape (default: csv with --trace, azure with --azure, else constant)")
    t.add_argument("--rps", type=float, help="constant/diurnal: mean request rate, req/s")
    t.add_argument("--minutes", type=int, default=1440, help="constant/diurnal: span in minutes (default 1440)")
    t.add_argument("--peak-to-mean", type=float, default=2.0, help="diurnal: peak / mean, 1..2 (default 2)")
    t.add_argument("--trace", metavar="CSV", help="per-minute trace (minute|timestamp, requests|count|rps)")
    t.add_argument("--span-minutes", type=int, help="csv: simulate this many minutes from the first row "
                   "(restores idle minutes after the last row)")
    t.add_argument("--azure", metavar="CSV", help="Azure Functions 2019 trace (HashOwner,...,1..1440)")
    t.add_argument("--function", default="rank:1",
                   help="azure: rank:N (N-th busiest) or a HashFunction prefix (default rank:1)")
    t.add_argument("--scale", type=float, metavar="RPS", help="rescale the profile to this mean rate (only if given)")
    t.add_argument("--seed", type=int, default=0, help="random seed for arrivals and service times (default 0)")

    i = parser.add_argument_group("measured inputs")
    i.add_argument("--from", dest="results", metavar="DIR",
                   help="make bench results folder: warm service times, cold INIT, pod capacity, memory")

    lam = parser.add_argument_group("Lambda")
    lam.add_argument("--memory", type=int, help="function memory, MB (default: from --from, else 1024)")
    lam.add_argument("--keep-alive-s", type=float, default=300.0,
                     help="idle time before an environment is reaped, s (AWS does not publish it; default 300, "
                     "sources in simulate/params.py)")
    lam.add_argument("--account-concurrency", type=int, default=ACCOUNT_CONCURRENCY_DEFAULT,
                     help=f"account concurrency quota (default {ACCOUNT_CONCURRENCY_DEFAULT})")
    lam.add_argument("--reserved-concurrency", metavar="N|none",
                     help="the function's reserved concurrency (default: serverless.yml's reservedConcurrency; "
                     "none lifts it)")
    lam.add_argument("--throttle-rate-rps", metavar="R|none",
                     help="HTTP API route throttling, req/s (default: serverless.yml's throttleRateLimit; none lifts "
                     "rate and burst)")
    lam.add_argument("--throttle-burst", metavar="N|none",
                     help="HTTP API route throttling burst (default: serverless.yml's throttleBurstLimit)")
    lam.add_argument("--provisioned-concurrency", type=int, default=0, help="provisioned environments (default 0)")
    lam.add_argument("--provisioned-schedule", metavar="N/N/.../N",
                     help="provisioned concurrency by hour of day, UTC: 24 whole numbers joined by '/' (hour 00 "
                     "first), as recommend --write's provisionedSchedule; not with --provisioned-concurrency")
    lam.add_argument("--arch", choices=("x86_64", "arm64"), default="x86_64", help="architecture (default x86_64)")
    lam.add_argument("--arm64-speed-factor", type=float, default=None, metavar="F",
                     help="how much faster the handler runs on arm64 than on x86_64 (2.0 = half the time); "
                     "default 1.0: not measured here (no arm64 machine), arm64 saves only its lower price")
    lam.add_argument("--lambda-params", metavar="JSON",
                     help="serverless.yml parameters file (recommend --write's lambda-params.json): memory, arch, "
                     "provisioned and reserved concurrency, SnapStart")
    lam.add_argument("--snapstart", action="store_true",
                     help="SnapStart: new environments are restored from a snapshot (no INIT billed; cache and "
                     "restore charged); not with --provisioned-concurrency")
    lam.add_argument("--restore-ms", type=float,
                     help="SnapStart restore latency, ms, constant (default: an assumed distribution, median 450 ms; "
                     "sources in simulate/params.py)")
    lam.add_argument("--front-door", choices=tuple(engine.FRONT_DOOR_PRICE_KEYS), default=None,
                     help="API Gateway HTTP API, REST API or Function URL (default: --lambda-params' "
                     "frontDoor, else http-api)")

    k = parser.add_argument_group("Kubernetes")
    k.add_argument("--hpa", default=str(DEFAULT_HPA), help="HPA manifest (default k8s/base/hpa.yaml)")
    k.add_argument("--overlay", help="kustomize overlay whose HPA patches, pod CPU/memory and WEB_CONCURRENCY apply, "
                   "e.g. k8s/overlays/prod or recommend --write's DIR/k8s")
    k.add_argument("--pod-capacity-rps", type=float, help="req/s one pod serves at its CPU limit (default: the "
                   "bench's knee with --from, else 400)")
    k.add_argument("--workers", type=int, default=2, help="gunicorn workers per pod, WEB_CONCURRENCY (default 2)")
    k.add_argument("--queue-limit", type=int, default=128, help="requests waiting per pod before 503 (default 128)")
    k.add_argument("--instance", default="t3.medium", help="node instance type from the price table (default t3.medium)")
    k.add_argument("--pod-startup-s", type=float, default=3.0, help="pod start to ready, s (default 3)")
    k.add_argument("--readiness-gate-s", type=float, default=0.0,
                   help="Ready to serving: the ALB readiness gate's registration + health checks, s (default 0; "
                   "20-40 with the prod overlay's gate)")
    k.add_argument("--image-pull-s", type=float, default=10.0, help="image pull on a fresh node, s (default 10)")
    k.add_argument("--provisioner", choices=tuple(NODE_PROVISIONERS), default="cluster-autoscaler",
                   help="node provisioning: cluster-autoscaler (100 s, empty nodes kept 10 min), karpenter "
                   "(55 s, 60 s) or fargate (EKS on Fargate: no nodes, each pod's own capacity in 40 s, billed "
                   "per pod at its Fargate size); default cluster-autoscaler")
    k.add_argument("--node-provisioning-s", type=float,
                   help="override the provisioner's node delay (on Fargate: a pod's capacity), s")
    k.add_argument("--min-nodes", type=int, default=2, help="nodes never removed (default 2; none on Fargate)")
    k.add_argument("--metrics-lag-s", type=float, default=15.0, help="metrics-server lag, s (default 15)")
    k.add_argument("--balancing", choices=("round-robin", "random"), default="round-robin",
                   help="round-robin (ALB default) or random (kube-proxy iptables); default round-robin")

    c = parser.add_argument_group("one-sided costs (prices and sources in cost/prices.json)")
    c.add_argument("--nat-gateways", type=int, default=1, help="NAT gateways the cluster's VPC runs (default 1)")
    c.add_argument("--nat-gb-per-month", type=float, default=10.0, help="GB a month through them (default 10)")
    c.add_argument("--public-ipv4", type=int, default=3, help="public IPv4 addresses (ALB per AZ + NAT; default 3)")
    c.add_argument("--eks-extended-support", action="store_true", help="price the control plane at extended support")
    c.add_argument("--log-bytes-per-invocation", type=float,
                   help="CloudWatch Logs bytes per Lambda invocation (default: measured from the handler's line + "
                   "the platform's lines)")

    s = parser.add_argument_group("service-level objective (marks a platform that misses it)")
    s.add_argument("--slo-ms", type=float, help="latency objective, ms, at --slo-pct")
    s.add_argument("--slo-pct", type=float, default=99.0, help="the objective's percentile (default 99)")
    s.add_argument("--error-budget", type=float, default=0.001,
                   help="fraction of requests that may fail, 429/503 (default 0.001)")

    o = parser.add_argument_group("output and running")
    o.add_argument("--platforms", default="lambda,kubernetes", help="which to simulate (default lambda,kubernetes)")
    o.add_argument("--json", action="store_true", help="print the JSON document (schema: simulate/schema.json)")
    o.add_argument("--per-minute", action="store_true", help="include the per-minute series in the JSON")
    o.add_argument("--out", metavar="JSON", help="also write the full document (with per-minute series) here")
    o.add_argument("--plot", metavar="PNG", help="write the timeline: traffic, environments vs pods, p99 per minute")
    o.add_argument("--prices", metavar="JSON", help="price table (default: the pinned one)")
    o.add_argument("--jobs", type=int, default=1, help="azure: simulate functions in N parallel processes")
    o.add_argument("--top", type=int, help="azure with --jobs: the N busiest functions (default N = jobs)")
    o.add_argument("--bench", action="store_true",
                   help="benchmark: a day at 1,000 req/s on both platforms; prints seconds and peak RSS")
    o.add_argument("--quiet", action="store_true", help="no progress on stderr")


_LIFTED = "none"


def _cap(text: str | None, option: str, kind: type) -> Any:
    """An option's cap: None (not given), ``"none"`` (lifted) or a number of ``kind``; else ParameterError."""
    if text is None:
        return None
    if text.strip().lower() == _LIFTED:
        return _LIFTED
    try:
        return kind(text)
    except ValueError:
        raise ParameterError(f"{option} {text!r} is neither a number nor none") from None


def _schedule(text: str) -> tuple[int, ...]:
    """``--provisioned-schedule``'s 24 counts; a malformed one is a ParameterError (exit 2)."""
    from twinbench.cost import pc_schedule

    try:
        return pc_schedule.parse(text)
    except pc_schedule.ScheduleError as exc:
        raise ParameterError(f"--provisioned-schedule: {exc}") from None


def _caps(args: argparse.Namespace) -> dict[str, Any]:
    """The Lambda caps: each option as given (``none`` = lifted), else serverless.yml's deployed value."""
    given = {"reserved_concurrency": _cap(args.reserved_concurrency, "--reserved-concurrency", int),
             "throttle_rate_rps": _cap(args.throttle_rate_rps, "--throttle-rate-rps", float),
             "throttle_burst": _cap(args.throttle_burst, "--throttle-burst", int)}
    if all(v is not None for v in given.values()):
        deployed = None
    else:
        try:
            deployed = deployed_caps()
        except ValueError as exc:
            raise ParameterError(f"serverless.yml's caps: {exc}") from None
    out: dict[str, Any] = {}
    for key, value in given.items():
        out[key] = getattr(deployed, key) if value is None else (None if value == _LIFTED else value)
    throttle_given = (given["throttle_rate_rps"], given["throttle_burst"])
    if args.front_door != "http-api" and throttle_given == (None, None):
        out["throttle_rate_rps"] = out["throttle_burst"] = None  # serverless.yml throttles the HTTP API only
    if _LIFTED in throttle_given:  # rate and burst are one bucket: lifting either lifts it
        out["throttle_rate_rps"] = out["throttle_burst"] = None
    return out


def _check_args(args: argparse.Namespace) -> None:
    """Every numeric option finite and in range: one line naming the option otherwise."""
    for name in ("rps", "peak_to_mean", "scale", "keep_alive_s", "pod_capacity_rps", "pod_startup_s",
                 "image_pull_s", "node_provisioning_s", "metrics_lag_s"):
        value = getattr(args, name)
        if value is not None:
            strict = name in ("scale", "pod_capacity_rps", "peak_to_mean")
            try:
                check_finite("--" + name.replace("_", "-"), value, strict=strict)
            except ParameterError as exc:
                raise ParameterError(str(exc)) from None
    for name in ("minutes", "workers", "jobs", "account_concurrency"):
        if getattr(args, name) < 1:
            raise ParameterError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("queue_limit", "min_nodes", "provisioned_concurrency"):
        if getattr(args, name) < 0:
            raise ParameterError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.queue_limit > 100_000:
        raise ParameterError("--queue-limit must be <= 100000")
    if args.top is not None and args.top < 1:
        raise ParameterError(f"--top must be >= 1, got {args.top}")
    if not 0 < args.slo_pct < 100:  # checked with or without --slo-ms: a bad value is never silently unused
        raise ParameterError(f"--slo-pct must be in (0, 100), got {args.slo_pct}")
    if not 0 <= args.error_budget <= 1:
        raise ParameterError(f"--error-budget must be a fraction in [0, 1], got {args.error_budget}")
    if args.seed < 0:  # numpy's generators take only non-negative seeds
        raise ParameterError(f"--seed must be >= 0, got {args.seed}")
    if (args.trace or args.azure) and args.rps is not None:
        raise ProfileError("--rps is for constant/diurnal traffic; a trace is replayed as it is, "
                           "--scale R rescales it")


def build_config(args: argparse.Namespace) -> engine.SimulationConfig:
    """The SimulationConfig the options describe; raises SimulationError."""
    _check_args(args)
    if args.bench:
        profile = profiles.constant(1000.0, 1440, args.seed)
    else:
        kind = args.profile or ("csv" if args.trace else "azure" if args.azure else "constant")
        if kind == "constant" and args.rps is None and not args.trace and not args.azure:
            raise ProfileError("give a profile: --rps R (constant/diurnal), --trace CSV or --azure CSV")
        if args.trace and args.azure:
            raise ProfileError("give --trace or --azure, not both")
        profile = profiles.load_profile(kind, rps=args.rps, minutes=args.minutes, peak_to_mean=args.peak_to_mean,
                                        trace=args.trace or args.azure, function=args.function,
                                        span_minutes=args.span_minutes, seed=args.seed)
        if args.scale is not None:
            profile = profile.scaled_to_mean(args.scale)
        profiles.check_simulatable(profile)
    inputs = inputs_from_results(args.results) if args.results else default_inputs()
    platforms = tuple(p.strip() for p in args.platforms.split(",") if p.strip())
    if not platforms or any(p not in ("lambda", "kubernetes") for p in platforms):
        raise ParameterError("--platforms takes lambda, kubernetes or both, comma-separated")
    file_params = read_lambda_params(args.lambda_params) if args.lambda_params else None
    front_door = args.front_door or (file_params.front_door if file_params else None) or "http-api"
    args = argparse.Namespace(**{**vars(args), "front_door": front_door})  # the file's door unless given
    caps = _caps(args)
    memory = args.memory if args.memory is not None else inputs.memory_mb
    pc, arch, snapstart = args.provisioned_concurrency, args.arch, args.snapstart
    schedule = _schedule(args.provisioned_schedule) if args.provisioned_schedule else ()
    if file_params is not None:  # a written parameters file: its values unless an option says otherwise
        f = file_params
        memory = f.memory_mb if f.memory_mb is not None and args.memory is None else memory
        if not pc and not schedule:  # the file's provisioned concurrency: its schedule, else its constant
            schedule = f.provisioned_schedule
            pc = 0 if schedule else (f.provisioned_concurrency or 0)
        arch = f.architecture or arch
        snapstart = bool(f.snapstart) or snapstart
        if f.reserved_concurrency is not None and args.reserved_concurrency is None:
            caps["reserved_concurrency"] = f.reserved_concurrency
        if f.throttle_rate_rps is not None and args.throttle_rate_rps is None and caps["throttle_rate_rps"] is not None:
            caps["throttle_rate_rps"] = f.throttle_rate_rps
        if f.throttle_burst is not None and args.throttle_burst is None and caps["throttle_burst"] is not None:
            caps["throttle_burst"] = f.throttle_burst
    lam = LambdaParams(memory_mb=memory, keep_alive_s=args.keep_alive_s, account_concurrency=args.account_concurrency,
                       **caps, provisioned_concurrency=pc, architecture=arch,  # type: ignore[arg-type]
                       front_door=args.front_door, snapstart=snapstart, provisioned_schedule=schedule,
                       **({} if args.arm64_speed_factor is None else {"arm64_speed_factor": args.arm64_speed_factor}))
    # The measured times are at the measured memory; another size scales them by CPU share.
    duration = inputs.lambda_duration.at_memory(inputs.memory_mb, memory)
    init = inputs.lambda_init.at_memory(inputs.memory_mb, memory)
    capacity = args.pod_capacity_rps or inputs.pod_capacity_rps
    cpu_m, mem_mib, workers = 1000.0, 1024.0, args.workers
    if args.overlay:
        pod = read_overlay_pod(args.overlay)
        if pod.cpu_m is not None:  # the measured capacity is a 1-CPU pod's; CPU-bound: in proportion
            capacity = capacity * pod.cpu_m / 1000.0
            cpu_m = pod.cpu_m
        mem_mib = pod.memory_mib if pod.memory_mib is not None else mem_mib  # 0 is refused, not replaced
        workers = pod.workers if pod.workers is not None else workers
    kube = KubeParams(pod_capacity_rps=capacity, workers=workers, pod_cpu_m=cpu_m, pod_memory_mib=mem_mib,
                      queue_limit=args.queue_limit, instance_type=args.instance, pod_startup_s=args.pod_startup_s,
                      readiness_gate_s=args.readiness_gate_s,
                      image_pull_s=args.image_pull_s, provisioner=args.provisioner,
                      node_provisioning_s=args.node_provisioning_s, min_nodes=args.min_nodes,
                      metrics_lag_s=args.metrics_lag_s, balancing=args.balancing)
    spec = load_hpa_spec(args.hpa, args.overlay)
    costs = OneSidedCosts(nat_gateways=args.nat_gateways, nat_gb_per_month=args.nat_gb_per_month,
                          public_ipv4=args.public_ipv4, eks_extended_support=args.eks_extended_support,
                          lambda_log_bytes_per_invocation=args.log_bytes_per_invocation)
    slo = Slo(args.slo_ms, args.slo_pct, args.error_budget) if args.slo_ms is not None else None
    restore = ServiceTime.constant("SnapStart restore", args.restore_ms) if args.restore_ms else None
    return engine.SimulationConfig(profile, lam, kube, spec, duration, init, inputs.container_service, seed=args.seed, prices_path=args.prices,
                                   inputs=inputs.describe(), platforms=platforms, costs=costs, slo=slo,
                                   lambda_restore=restore)


class _Progress:
    """Progress on stderr at most every 2 s, only for runs long enough to need it."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.last = 0.0

    def __call__(self, fraction: float, elapsed: float) -> None:
        if self.quiet or elapsed - self.last < 2.0:
            return
        self.last = elapsed
        eta = elapsed / fraction - elapsed if fraction > 0 else math.inf
        print(f"simulate: {fraction * 100:5.1f}% after {elapsed:.0f} s (about {eta:.0f} s left)", file=sys.stderr)


def _one(args: argparse.Namespace) -> dict[str, Any]:
    config = build_config(args)
    result = engine.simulate(config, _Progress(args.quiet))
    doc = result.to_document(per_minute=True)
    try:
        if args.plot:
            from twinbench.simulate.report import plot_timeline

            plot_timeline(doc, args.plot, config.profile.counts)
        if args.out:
            Path(args.out).write_text(json.dumps(doc), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {exc.filename or args.out or args.plot}: {exc.strerror or exc}") from None
    return doc


def _strip_per_minute(doc: dict[str, Any]) -> dict[str, Any]:
    for p in doc["platforms"].values():
        p.pop("per_minute", None)
    return doc


def _job(argv_args: dict[str, Any]) -> dict[str, Any]:
    """One function of a --jobs run, in a worker process; errors come back as data."""
    args = argparse.Namespace(**argv_args)
    try:
        return _strip_per_minute(_one(args)) if not args.per_minute else _one(args)
    except SimulationError as exc:
        return {"error": str(exc), "function": args.function}


def run(args: argparse.Namespace) -> int:
    from twinbench.simulate.report import render_text

    try:
        _check_args(args)  # before the --jobs fan-out too: a bad option is one line, not one per function
        if args.jobs > 1 or args.top:
            if not args.azure:
                raise ParameterError("--jobs/--top simulate several functions of an Azure trace: give --azure")
            ranked = profiles.azure_functions(args.azure)
            top = min(args.top or args.jobs, len(ranked))
            base = dict(vars(args), jobs=1, top=None, plot=None, out=None, quiet=True)
            base.pop("func", None)
            work = [dict(base, function=f"rank:{f.rank}") for f in ranked[:top]]
            started = time.perf_counter()
            with ProcessPoolExecutor(max_workers=args.jobs) as pool:
                docs = []
                for n, doc in enumerate(pool.map(_job, work), start=1):
                    docs.append(doc)
                    if not args.quiet:
                        print(f"simulate: {n}/{top} functions after {time.perf_counter() - started:.0f} s",
                              file=sys.stderr)
            if args.json:
                print(json.dumps(docs, indent=1))
            else:
                print("\n\n".join(d["error"] if "error" in d else render_text(d) for d in docs))
            return EXIT_BAD_INPUT if any("error" in d for d in docs) else 0
        started = time.perf_counter()
        doc = _one(args)
    except SimulationError as exc:
        print(f"twinbench simulate: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.per_minute:
        doc = _strip_per_minute(doc)
    if args.bench:
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(f"simulate --bench: {doc['profile']['requests']:,} requests (1 day at 1,000 req/s), both platforms: "
              f"{time.perf_counter() - started:.1f} s wall, peak RSS {rss_mib:,.0f} MiB, "
              f"{os.cpu_count()} CPUs, numba={doc['engine']['numba']} (target <= 60 s, <= 2048 MiB)")
    if args.json:
        print(json.dumps(doc, indent=1))
    elif not args.bench or not args.quiet:
        print(render_text(doc))
    for w in doc["warnings"]:
        if args.json:
            print(f"twinbench simulate: warning: {w}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand alone (``python -m twinbench.cli.simulate``)."""
    parser = OneLineParser(prog="twinbench")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["simulate", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
