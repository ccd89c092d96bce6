"""``python -m twinbench cost``: monthly cost of Lambda vs EKS vs Fargate, and the break-even.

A thin adapter: parse options, build the typed inputs, call ``twinbench.cost.model.compare``,
print. Every CostModelError becomes one line on stderr and exit code 2, here and only here;
so does a result that is not a finite number (the last guard against printing "$nan").
A trace is priced as it is: only ``--scale`` rescales it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from typing import Any

from twinserve.cli_parser import OneLineParser

from twinbench.cost import model as cost
from twinbench.cost import traffic

EPILOG = """\
examples:
  python -m twinbench cost --rps 50 --memory 1024
  python -m twinbench cost --rps 50 --memory 1024 --duration-ms 12 --arch arm64 \\
      --front-door function-url --pod-rps 400 --instance c7g.large --json
  python -m twinbench cost --rps 20 --profile diurnal --peak-to-mean 1.8
  python -m twinbench cost --trace traffic.csv          # per-minute trace, priced as it is
  python -m twinbench cost --trace traffic.csv --span-minutes 1440 --scale 50   # a day, rescaled
  python -m twinbench cost --azure invocations_per_function_md.anon.d01.csv --function rank:3

trace CSV: a header naming a time column (minute | timestamp, ISO 8601 with a zone) and a
volume column (requests | count | rps); a UTF-8 BOM is fine. Minutes with no row between
the first and the last row count as idle and a warning on stderr says how many; the span runs
from the first to the last row, or --span-minutes from the first row (an export that skips
empty minutes loses the idle ones after its last row). At most 527,040 minutes (366 days)
and 60,000,000 requests in a minute. The profile repeats to fill the month; long spans take
a while (a year of minutes: ~20 s, announced on stderr). All figures: us-east-1 on-demand
prices pinned in scripts/twinbench/cost/prices.json, 730-hour month, no free tier.
exit codes: 0 done, 2 bad input (one line on stderr).
"""

SLOW_NOTICE_S = 5.0
"""Announce the run time on stderr when the estimate passes this many seconds."""
PRICINGS_PER_RUN = 350
"""About how many times compare() prices the whole profile (both break-even searches),
measured on a year of minutes; the run time is this times one pricing."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cost",
        help="Monthly cost of Lambda vs EKS vs Fargate for a traffic profile, and the break-even rate",
        description="Price one traffic profile on Lambda (+ front door), on EKS with EC2 nodes and on "
        "Fargate, from measured billed duration and measured throughput per pod; print the monthly "
        "bill of each (730-hour month) and the request rate where Lambda stops being cheaper.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t = parser.add_argument_group("traffic")
    t.add_argument("--rps", type=float, help="constant/diurnal: mean request rate, req/s (required unless "
                   "--trace or --azure; a trace is rescaled only by --scale)")
    t.add_argument("--profile", choices=("constant", "diurnal", "trace", "azure"), default=None,
                   help="traffic shape (default: trace with --trace, azure with --azure, else constant)")
    t.add_argument("--peak-to-mean", type=float, default=None,
                   help="diurnal only: peak rate / mean rate, 1..2 (default 2: trough at zero)")
    t.add_argument("--peak-hour-utc", type=float, default=None, help="diurnal only: hour of the peak (default 14)")
    t.add_argument("--trace", metavar="CSV", help="per-minute trace file (minute|timestamp, requests|count|rps), "
                   "priced as it is")
    t.add_argument("--span-minutes", "--span", dest="span_minutes", type=int, metavar="MINUTES",
                   help="trace: the span in minutes from the first row (default: first to last row); restores "
                   "idle minutes after the last row")
    t.add_argument("--azure", metavar="CSV", help="Azure Functions 2019 trace (HashOwner,...,1..1440)")
    t.add_argument("--function", default="rank:1",
                   help="azure: rank:N (N-th busiest) or a HashFunction prefix (default rank:1)")
    t.add_argument("--scale", type=float, metavar="RPS",
                   help="trace/azure: rescale to this mean rate, req/s, keeping the shape (only if given)")

    lam = parser.add_argument_group("Lambda (measured by make bench)")
    lam.add_argument("--memory", type=int, default=1024, help="function memory, MB (128..10240; default 1024)")
    lam.add_argument("--duration-ms", type=float, default=12.0,
                     help="mean billed duration per warm invocation, ms, as in REPORT lines (default 12: a "
                     "placeholder, pass your measured value)")
    lam.add_argument("--init-duration-ms", type=float, default=0.0,
                     help="Init Duration of a cold start, ms; billed once per cold start (default 0)")
    lam.add_argument("--arch", choices=cost.ARCHITECTURES, default="x86_64",
                     help="x86_64 or arm64 (arm64 is 20%% cheaper per GB-s; default x86_64)")
    lam.add_argument("--front-door", choices=cost.FRONT_DOORS, default="http-api",
                     help="http-api ($1.00/M), rest ($3.50/M) or function-url (free); default http-api")
    lam.add_argument("--keep-alive-s", type=float, default=300.0,
                     help="assumed idle time before Lambda reaps an environment, s (default 300)")
    lam.add_argument("--provisioned-concurrency", type=int, default=0,
                     help="provisioned environments billed all month (x86_64 only; default 0)")

    ctr = parser.add_argument_group("container (measured by make bench)")
    ctr.add_argument("--pod-rps", type=float, default=400.0,
                     help="throughput of one pod with p99 under the SLO, req/s (default 400: a placeholder, "
                     "pass the measured knee)")
    ctr.add_argument("--pod-cpu-m", type=float, default=1000.0, help="pod CPU request, millicores (default 1000)")
    ctr.add_argument("--pod-memory-mib", type=float, default=1024.0, help="pod memory request, MiB (default 1024)")
    ctr.add_argument("--instance", default="t3.medium",
                     help="EKS node instance type from prices.json: t3.medium, m6i.large, c7g.large "
                     "(default t3.medium)")
    ctr.add_argument("--headroom", type=float, default=1.43,
                     help="capacity / peak load; 1.43 = the HPA's 70%% CPU target (default 1.43)")
    ctr.add_argument("--min-replicas", type=int, default=2, help="minimum pods, one per AZ (default 2)")
    ctr.add_argument("--min-nodes", type=int, default=2, help="minimum EKS nodes (default 2)")
    ctr.add_argument("--fargate-on", choices=("eks", "ecs"), default="eks",
                     help="eks: EKS on Fargate (control plane, +256 MiB per pod); ecs: ECS on Fargate "
                     "(default eks)")
    ctr.add_argument("--alb-new-connections-per-request", type=float, default=1.0,
                     help="ALB LCU assumption: new connections per request (1 = no keep-alive; default 1)")
    ctr.add_argument("--alb-bytes-per-request", type=float, default=2048.0,
                     help="ALB LCU assumption: bytes processed per request, in + out (default 2048)")

    out = parser.add_argument_group("output")
    out.add_argument("--prices", metavar="JSON", help="price table (default: the pinned scripts/twinbench/cost/prices.json)")
    out.add_argument("--max-rps", type=float, default=100_000.0,
                     help="highest mean rate searched for the break-even, req/s, > 0 (default 100000)")
    out.add_argument("--json", action="store_true", help="print the full comparison as JSON instead of a table")
    parser.set_defaults(func=run)


def build_profile(args: argparse.Namespace) -> traffic.TrafficProfile:
    """The traffic profile the options describe; raises CostModelError on a bad combination."""
    if args.trace and args.azure:
        raise traffic.TrafficError("give --trace or --azure, not both")
    kind = args.profile or ("trace" if args.trace else "azure" if args.azure else "constant")
    if kind in ("trace", "azure"):
        source = args.trace if kind == "trace" else args.azure
        if not source:
            raise traffic.TrafficError(f"--profile {kind} needs --{kind} FILE")
        if args.rps is not None:
            raise traffic.TrafficError(f"--rps is for constant/diurnal traffic; a trace is priced as it is, "
                                       f"--scale {args.rps:g} rescales it")
        if args.span_minutes is not None and kind == "azure":
            raise traffic.TrafficError("--span-minutes applies to --trace (an Azure trace has all its minutes)")
        profile = (traffic.from_trace_csv(args.trace, args.span_minutes) if kind == "trace"
                   else traffic.from_azure_csv(args.azure, args.function))
        if args.scale is None:
            return profile
        mean = traffic.check_rate("--scale", args.scale)
        if mean == 0:
            raise traffic.TrafficError("--scale must be > 0 req/s")
        scaled = profile.scaled_to_mean(mean)
        return dataclasses.replace(scaled, description=f"{profile.description}, rescaled to a mean of {mean:g} req/s")
    if args.trace or args.azure:
        raise traffic.TrafficError(f"a trace file given but --profile is {kind}")
    if kind != "diurnal":  # a shape option on a flat profile is a mistake, not a no-op
        for option in ("peak_to_mean", "peak_hour_utc"):
            if getattr(args, option) is not None:
                raise traffic.TrafficError(f"--{option.replace('_', '-')} applies to --profile diurnal")
    for option in ("scale", "span_minutes"):
        if getattr(args, option) is not None:
            raise traffic.TrafficError(f"--{option.replace('_', '-')} applies to a trace (--trace or --azure)")
    if args.rps is None:
        raise traffic.TrafficError("--rps is required (mean request rate, req/s) unless --trace or --azure is given")
    if kind == "diurnal":
        shape = {k: v for k, v in (("peak_to_mean", args.peak_to_mean), ("peak_hour_utc", args.peak_hour_utc))
                 if v is not None}  # absent: the model's own defaults (2 and 14 h)
        return traffic.diurnal(args.rps, **shape)
    return traffic.constant(args.rps)


def _announce_long_run(profile: traffic.TrafficProfile, lam: cost.LambdaConfig, ctr: cost.ContainerConfig,
                       alb: cost.AlbAssumptions, prices: cost.PriceTable) -> None:
    """Say on stderr how long a long profile will take: its run time grows with its span.

    Short profiles are not timed (a week or less takes a second or two); longer ones are
    priced once and the estimate is that times PRICINGS_PER_RUN.
    """
    if profile.minutes <= 7 * 1440:
        return
    started = time.perf_counter()
    # One step of the search: rescale the shape, price Lambda and a container platform.
    scaled = profile.scaled_to_mean(profile.mean_rps) if profile.mean_rps > 0 else profile
    cost.lambda_monthly_cost(scaled, lam, prices)
    cost.eks_monthly_cost(scaled, ctr, alb, prices)
    estimate_s = (time.perf_counter() - started) * PRICINGS_PER_RUN
    if estimate_s >= SLOW_NOTICE_S:
        print(f"twinbench cost: pricing {profile.minutes:,} minutes of traffic; the break-even search prices "
              f"them a few hundred times: roughly {estimate_s:,.0f} s", file=sys.stderr, flush=True)


def _check_finite(result: cost.CostComparison) -> None:
    """Refuse to print a bill that is not a number (inputs the configs let through)."""
    for c in (result.lambda_cost, result.eks_cost, result.fargate_cost):
        if not math.isfinite(c.monthly_usd):
            raise cost.ConfigError(f"the {c.label} bill is not a finite number ({c.monthly_usd}); "
                                   "check the rates and per-request assumptions")


def run(args: argparse.Namespace) -> int:
    try:
        prices = cost.load_prices(args.prices)
        profile = build_profile(args)
        for warning in profile.warnings:
            print(f"twinbench cost: warning: {warning}", file=sys.stderr)
        lam = cost.LambdaConfig(
            billed_duration_ms=args.duration_ms, memory_mb=args.memory, architecture=args.arch,
            front_door=args.front_door, init_duration_ms=args.init_duration_ms,
            keep_alive_s=args.keep_alive_s, provisioned_concurrency=args.provisioned_concurrency)
        ctr = cost.ContainerConfig(
            pod_rps=args.pod_rps, pod_cpu_m=args.pod_cpu_m, pod_memory_mib=args.pod_memory_mib,
            instance_type=args.instance, headroom_factor=args.headroom,
            min_replicas=args.min_replicas, min_nodes=args.min_nodes)
        alb = cost.AlbAssumptions(new_connections_per_request=args.alb_new_connections_per_request,
                                  processed_bytes_per_request=args.alb_bytes_per_request)
        _announce_long_run(profile, lam, ctr, alb, prices)
        result = cost.compare(profile, lam, ctr, alb=alb, prices=prices,
                              fargate_on_eks=args.fargate_on == "eks", max_rps=args.max_rps)
        _check_finite(result)
    except cost.CostModelError as exc:
        print(f"twinbench cost: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render_text(result))
    return 0


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _rate(rps: float) -> str:
    # Sparse traces average well below 0.01 req/s; "0.00" would hide that they carry traffic.
    return f"{rps:,.2f}" if rps >= 1 or rps == 0 else f"{rps:.3g}"


def _requests(count: float) -> str:
    return f"{count / 1e6:,.1f} M" if count >= 1e5 else f"{count:,.0f}"


def _qty(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"


def _unit_usd(value: float) -> str:
    # Fixed-point, not 1.66667e-05: the pinned prices are read against AWS's own pages.
    return "$" + (f"{value:.10f}".rstrip("0").rstrip(".") or "0")


def _break_even_line(be: cost.BreakEven, label: str) -> str:
    if be.rps is None:
        return f"  Lambda vs {label}: Lambda is cheaper at every rate up to {be.searched_up_to_rps:,.0f} req/s"
    if be.rps == 0:
        return f"  Lambda vs {label}: Lambda is never cheaper (its fixed costs exceed {label}'s)"
    line = (f"  Lambda vs {label}: {be.rps:,.2f} req/s mean "
            f"({be.requests_per_month / 1e6:,.1f} M requests/month); Lambda is cheaper below")
    if len(be.crossings_rps) > 1:
        others = ", ".join(f"{c:,.1f}" for c in be.crossings_rps[1:6])
        line += f"\n    (the cheaper side flips again at {others} req/s: whole nodes/pods are steps)"
    return line


def render_text(result: cost.CostComparison) -> str:
    """The human table: assumptions first, then the three bills, then the break-even."""
    t = result.traffic
    lam, ctr = result.lambda_config, result.container_config
    cold = result.cold_starts
    lines = [
        f"Monthly cost, {result.region}, {result.hours_per_month:g}-hour month, on-demand prices pinned "
        f"{result.prices_pinned_on}",
        f"Traffic   {t['description']}: mean {_rate(t['mean_rps'])} req/s, peak minute {_rate(t['peak_rps'])} req/s, "
        f"{_requests(t['requests_per_month'])} requests/month",
        f"Lambda    {lam.architecture}, {lam.memory_mb} MB, {lam.billed_duration_ms:g} ms billed/invocation, "
        f"init {lam.init_duration_ms:g} ms; cold starts {cold.cold_start_fraction * 100:.3g}% of requests "
        f"({cold.cold_starts_per_month:,.0f}/month, keep-alive {lam.keep_alive_s:g} s)",
        f"Container {ctr.pod_rps:g} req/s per pod at the SLO, pod {ctr.pod_cpu_m:g}m CPU / {ctr.pod_memory_mib:g} MiB, "
        f"headroom x{ctr.headroom_factor:g}, min {ctr.min_replicas} replicas -> "
        f"{result.eks_cost.sizing['pods']} pods at peak",
        "",
        f"  {'platform':<34}{'monthly USD':>14}",
        f"  {'-' * 34}{'-' * 14}",
    ]
    costs = (result.lambda_cost, result.eks_cost, result.fargate_cost)
    for c in costs:
        marker = "  <- cheapest" if c.platform == result.cheapest else ""
        lines.append(f"  {c.label:<34}{_usd(c.monthly_usd):>14}{marker}")
    lines.append("")
    for c in costs:
        sizing = ""
        if c.platform == "eks":
            sizing = f" ({c.sizing['pods']} pods on {c.sizing['nodes']} x {c.sizing['instance_type']})"
        elif c.platform == "fargate":
            sizing = f" ({c.sizing['pods']} pods x {c.sizing['pod_vcpu']:g} vCPU / {c.sizing['pod_memory_gb']:g} GB)"
        lines.append(f"  {c.label}{sizing}")
        for item in c.items:
            lines.append(f"    {item.name:<38}{_qty(item.quantity):>16} {item.unit:<17} x "
                         f"{_unit_usd(item.unit_usd):<14}= {_usd(item.monthly_usd):>11}")
        for note in c.notes:
            lines.append(f"    note: {note}")
    lines += [
        "",
        "Break-even (mean req/s, same traffic shape):",
        _break_even_line(result.break_even_eks, result.eks_cost.label),
        _break_even_line(result.break_even_fargate, result.fargate_cost.label),
        "",
        "Assumptions:",
        *(f"  - {a}" for a in result.assumptions),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand alone (tests, debugging) without the other twinbench commands."""
    parser = OneLineParser(prog="twinbench")
    register(parser.add_subparsers(dest="command", required=True))
    args: Any = parser.parse_args(["cost", *(argv or [])])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
