"""One bench run: start the targets, run the scenarios, collect, simulate and search, write results.json.

The orchestration behind ``twinbench bench``, apart from its argument parsing: it takes the parsed
options (``argparse.Namespace``, as ``cli/bench.py`` builds them) and a ``RunFolder``, and returns the
exit code so far with the document written, so the CLI only validates, renders and prints.
Everything started is stopped when :func:`measure` returns, also on failure and interruption.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

from twinserve_support.process.managed import ProcessNotReady

from twinbench.bench.at_traffic import search_at_traffic, simulate_at_traffic
from twinbench.measure.loadgen import LoadGenerator
from twinbench.measure.progress import Progress
from twinbench.measure.scenarios import (
    PROFILES,
    burst,
    capacity_estimate_rps,
    cold_start,
    profile_dict,
    rate_ladder,
    scalability,
    warm,
)
from twinbench.results import document as results
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
    request_payloads,
)
from twinbench.targets.base import Sign
from twinbench.targets.local_lambda_target import WSGI_PREFIX

__all__ = ["env_float", "env_int", "measure"]


MAX_RAW_REPORTS = 2000


def env_int(name: str) -> int | None:
    """An optional integer setting from the environment (``none``/``unlimited``/empty: None)."""
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw and raw.lower() not in {"none", "unlimited"} else None

def env_float(name: str) -> float | None:
    """An optional float setting from the environment (empty: None)."""
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else None

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
                    memory_mb=env_int("LAMBDA_MEMORY_MB"), reserved_concurrency=env_int("LAMBDA_RESERVED_CONCURRENCY"),
                    log_dir=log_dir, variant="wsgi"))
        elif name == "lambda":
            if args.lambda_url:
                targets.append(RemoteLambdaTarget(args.lambda_url, function_name=args.lambda_function,
                                                  region=args.aws_region, sign=_lambda_signer(args)))
            elif args.lambda_runtime == "offline":
                targets.append(OfflineLambdaTarget(package_dir=args.lambda_package,
                                                   memory_mb=env_int("LAMBDA_MEMORY_MB"),
                                                   idle_s=env_float("LAMBDA_IDLE_S"), log_dir=log_dir))
            else:
                targets.append(LambdaTarget(
                    runtime=args.lambda_runtime, package_dir=args.lambda_package,
                    memory_mb=env_int("LAMBDA_MEMORY_MB"), reserved_concurrency=env_int("LAMBDA_RESERVED_CONCURRENCY"),
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

def measure(folder: RunFolder, args: argparse.Namespace, chosen_targets: list[str], chosen: list[str],
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
