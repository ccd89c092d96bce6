"""``twinbench bench-peers``: twinserve vs the naive blog template and MLServer, same machine, same model.

Runs :mod:`twinbench.peers` and writes ``results/peers-<timestamp>/results.json``; prints one
table per model with PASS/FAIL for each target. Exit codes: 0 every target met,
3 a target FAILED or could not be measured, 1 the run failed, 2 bad usage/setup, 130 interrupted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import twinbench.peers as twinbench_peers
from twinbench.cli.arg_types import non_negative_float, positive_float, positive_int
from twinbench.measure.progress import Progress
from twinbench.peers import compare, lambda_part, runner, servers
from twinbench.results import formats
from twinbench.results.documents import PeersResults
from twinbench.results.envinfo import load_average
from twinbench.results.lifecycle import RunLifecycle
from twinbench.results.run_folder import RunFolder, RunFolderError

__all__ = ["register", "run"]

EXIT_TARGET_FAILED = 3


def _csv(kind: Callable[[str], Any], allowed: tuple | None = None):
    def parse(text: str) -> tuple:
        values = tuple(kind(v.strip()) for v in text.split(",") if v.strip())
        if allowed is not None:
            bad = [v for v in values if v not in allowed]
            if bad:
                raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {', '.join(map(str, allowed))}")
        return values
    return parse


def _non_empty(parse: Callable[[str], tuple]) -> Callable[[str], tuple]:
    def checked(text: str) -> tuple:
        values = parse(text)
        if not values:
            raise argparse.ArgumentTypeError("give at least one value")
        return values
    return checked


def _ascending(parse: Callable[[str], tuple]) -> Callable[[str], tuple]:
    """The sweep stops at its first saturated step, so its rates must rise."""
    def checked(text: str) -> tuple:
        values = parse(text)
        if list(values) != sorted(set(values)):
            raise argparse.ArgumentTypeError(f"rates must be ascending and distinct, got {text}")
        return values
    return checked


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench-peers",
        help="twinserve vs the naive blog template and MLServer, interleaved, PASS/FAIL per target",
        description=__doc__ + "\n" + twinbench_peers.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--models", type=_non_empty(_csv(str, servers.MODEL_KINDS)), default=servers.MODEL_KINDS,
                   help="comma-separated default models (default: rf,logreg)")
    p.add_argument("--servers", type=_non_empty(_csv(str, servers.SERVER_ORDER)), default=servers.SERVER_ORDER,
                   help="comma-separated servers, in interleaving order (default: %(default)s)")
    p.add_argument("--rounds", type=positive_int, default=3, help="interleaved rounds; tables show medians (default: 3)")
    p.add_argument("--duration-s", type=positive_float, default=10.0, help="seconds per wrk run (default: 10)")
    p.add_argument("--warmup-s", type=non_negative_float, default=2.0, help="discarded wrk warm-up per server (default: 2)")
    p.add_argument("--concurrency", type=_non_empty(_csv(positive_int)), default=servers.CONCURRENCIES,
                   help="wrk connections, comma-separated (default: 1,8,32; targets read c=32)")
    p.add_argument("--sweep-rates", type=_ascending(_csv(positive_float)), default=(100.0, 300.0, 900.0),
                   help="open-loop rates in rps, ascending; stops at the first saturated step; "
                        "empty string skips the sweep (default: 100,300,900)")
    p.add_argument("--sweep-step-s", type=positive_float, default=3.0, help="seconds per open-loop step (default: 3)")
    p.add_argument("--fast", action="store_true",
                   help="smoke run: 1 round, 2 s per wrk run, 1 s warm-up, one 1 s open-loop step at 50 rps")
    p.add_argument("--lambda", dest="run_lambda", action="store_true",
                   help="also measure Lambda cold init and warm duration: the shipped package "
                        "(build/lambda/pkg) vs the blog's handler in a scikit-learn package, local emulator")
    p.add_argument("--lambda-only", action="store_true", help="only the Lambda part")
    p.add_argument("--lambda-package", type=Path, default=runner.PeersConfig.lambda_package,
                   help="unzipped shipped package (default: build/lambda/pkg)")
    p.add_argument("--lambda-handler", default="handler.handler", help="its handler (default: handler.handler)")
    p.add_argument("--lambda-cold-samples", type=positive_int, default=5, help="cold starts per variant (default: 5)")
    p.add_argument("--work-dir", type=Path, default=runner.PeersConfig.work_dir,
                   help="models, rendered MLServer settings, wrk scripts (default: build/peers)")
    p.add_argument("--out", type=Path, default=runner.PeersConfig.results_dir,
                   help="results root; the run goes to <out>/peers-<timestamp>/ (default: results)")
    p.add_argument("--wrk", default="wrk", help="wrk binary (default: wrk on PATH)")
    p.add_argument("--mlserver", type=Path, default=runner.PeersConfig.mlserver_bin,
                   help="mlserver executable (default: .venv-mlserver/bin/mlserver)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> runner.PeersConfig:
    cfg = runner.PeersConfig(
        models=tuple(args.models), servers=tuple(args.servers), rounds=args.rounds,
        duration_s=args.duration_s, warmup_s=args.warmup_s, concurrencies=tuple(args.concurrency),
        sweep_rates=tuple(args.sweep_rates), sweep_step_s=args.sweep_step_s, work_dir=args.work_dir,
        results_dir=args.out, wrk=args.wrk, mlserver_bin=args.mlserver,
        run_lambda=args.run_lambda or args.lambda_only, lambda_package=args.lambda_package,
        lambda_handler=args.lambda_handler, lambda_cold_samples=args.lambda_cold_samples,
    )
    if args.fast:
        cfg.rounds, cfg.duration_s, cfg.warmup_s = 1, 2.0, 1.0
        cfg.sweep_rates, cfg.sweep_step_s = (50.0,), 1.0
        cfg.lambda_cold_samples, cfg.lambda_warm_samples = 2, 10
    if args.lambda_only:
        cfg.models = ()
    return cfg


def _preflight(cfg: runner.PeersConfig) -> str | None:
    if cfg.models and shutil.which(cfg.wrk) is None:
        return f"wrk not found ({cfg.wrk}); `make bench-peers` installs it (apt-get install wrk)"
    if any(s.startswith("mlserver") for s in cfg.servers) and cfg.models and not cfg.mlserver_bin.exists():
        return f"{cfg.mlserver_bin} missing; `make bench-peers` creates .venv-mlserver"
    if cfg.rounds < 1 or cfg.duration_s <= 0:
        return "--rounds must be >= 1 and --duration-s > 0"
    return None


def _warnings(doc: dict) -> list[str]:
    """Warnings from the whole document (``to_dict()``: the environment is in the envelope)."""
    out = []
    env = doc["environment"]
    load, cores = env.get("load_average_1_5_15"), env.get("cpu_count") or 1
    if load and load[0] > 0.5 * cores:
        out.append(f"machine was busy before the run (1-min load average {load[0]} on {cores} cores): "
                   "servers were interleaved so drift hits all alike, but absolute numbers are low")
    for kind, model in doc["models"].items():
        if not model.get("labels_agree", True):
            out.append(f"{kind}: servers disagree on the example row's predicted class")
        for name, server in model.get("servers", {}).items():
            for rnd in server.get("rounds", []):
                for step in rnd["steps"]:
                    threads = step.get("wrk_threads") or 1
                    if (step.get("wrk_cpu_fraction") or 0) > 0.85 * threads:
                        out.append(f"{kind}/{name} c={step['concurrency']} round {rnd['round']}: wrk used "
                                   f"{step['wrk_cpu_fraction']} cores of its {threads} threads: it may have been the limit")
                    if sum(step["errors"].values()):
                        out.append(f"{kind}/{name} c={step['concurrency']} round {rnd['round']}: errors {step['errors']}")
        unstable = [f"{name} c={','.join(c for c, cell in cells.items() if cell.get('unstable'))}"
                    for name, cells in model.get("summary", {}).items()
                    if any(cell.get("unstable") for cell in cells.values())]
        if unstable:
            out.append(f"{kind}: rounds differ by more than 20 % (rps or p99) for {'; '.join(unstable)}: "
                       "read the medians as rough; the per-round numbers are in results.json")
    return out


def _verdicts(models: dict, lambda_part: dict | None) -> list[str]:
    """PASS/FAIL/MISSING of every target, the models' and the Lambda part's."""
    verdicts = [t["verdict"] for m in models.values() for t in m.get("targets", [])]
    if isinstance(lambda_part, dict):
        verdicts += [t["verdict"] for t in lambda_part.get("targets", [])]
    return verdicts


def run(args: argparse.Namespace) -> int:
    cfg = _config(args)
    problem = _preflight(cfg)
    if problem:
        print(f"twinbench bench-peers: {problem}", file=sys.stderr)
        return 2
    progress = Progress(quiet=args.quiet)
    try:
        with RunFolder(formats.PEERS, root=cfg.results_dir, prefix="peers", logs=True,
                       environment=lambda: runner.environment(cfg)) as folder:
            exit_code, doc, tables, path = _measure(folder, cfg, args, progress)
    except RunFolderError as exc:
        print(f"twinbench bench-peers: --out: {exc}", file=sys.stderr)
        return 2
    return _print(folder, doc, tables, path, exit_code)


def _measure(folder: RunFolder, cfg: runner.PeersConfig, args: argparse.Namespace,
             progress: Progress) -> tuple[int, dict, list[str], Path]:
    """Run every model and the Lambda part; write results.json (partial and marked when interrupted)."""
    payload = PeersResults(run={
        "id": folder.path.name, "argv": sys.argv,
        "settings": {"models": list(cfg.models), "servers": list(cfg.servers), "rounds": cfg.rounds,
                     "wrk_duration_s": cfg.duration_s, "warmup_s": cfg.warmup_s,
                     "concurrencies": list(cfg.concurrencies), "sweep_rates_rps": list(cfg.sweep_rates),
                     "sweep_step_s": cfg.sweep_step_s, "sweep_slo_ms": servers.SWEEP_SLO_MS,
                     "target_concurrency": servers.TARGET_CONCURRENCY, "fast": args.fast,
                     "lambda": cfg.run_lambda}})
    tables: list[str] = []
    lifecycle = RunLifecycle(folder, run=payload.run, note=progress.note, keep_going=True,
                             interrupted_note="interrupted: every server started was stopped; partial results kept")
    with lifecycle:
        for kind in cfg.models:
            progress.phase(f"{kind}: preparing the model (train if absent, joblib copy)")
            model = servers.prepare_model(kind, cfg.work_dir, cfg.python, progress.note)
            progress.done(str(model.model_dir))
            record = runner.run_model(model, cfg, progress.note, folder.logs)
            summary = record.pop("_summary_int")
            payload.models[kind] = record
            keep_alive = {name: s["keep_alive"] for name, s in record["servers"].items()}
            tables.append(compare.render_table(kind, summary, list(cfg.servers), keep_alive, record["targets"]))
            if cfg.sweep_rates:
                tables.append(compare.render_sweep(kind, {name: s["sweeps"] for name, s in record["servers"].items()}))
        if cfg.run_lambda:
            progress.phase("lambda: cold init and warm duration (local emulator)")
            payload.lambda_ = lambda_part.run_lambda_part(cfg, progress.note)
            progress.done(payload.lambda_.get("status", "?"))
            tables.append(lambda_part.render_lambda(payload.lambda_))
    exit_code = lifecycle.exit_code
    payload.run["load_average_after"] = load_average()
    document = folder.document(payload)
    payload.warnings = _warnings(document.to_dict())
    verdicts = _verdicts(payload.models, payload.lambda_)
    payload.run["targets_met"] = bool(verdicts) and all(v == "PASS" for v in verdicts)
    path = folder.write(document)
    return exit_code, document.to_dict(), tables, path


def _print(folder: RunFolder, doc: dict, tables: list[str], path: Path, exit_code: int) -> int:
    """The tables, warnings and verdict of a written run; the exit code."""
    env = doc["environment"]
    print()
    print(f"bench-peers {folder.path.name}: {env.get('cpu_model')}, {env.get('cpu_count')} cores, "
          f"load average before {env.get('load_average_1_5_15')} after {doc['run']['load_average_after']}, "
          f"wrk {env.get('wrk_version')}, {doc['run']['duration_s']:.0f} s")
    print("keep-alive: whether a server kept the client's connection open, as probed (column 'keep-alive'): "
          "twinserve (nginx) and MLServer (uvicorn) do; the naive template's gunicorn sync workers close it")
    for table in tables:
        print()
        print(table)
    for warning in doc["warnings"]:
        print(f"WARNING: {warning}")
    print(f"\nresults: {path}")
    if exit_code == 0 and _verdicts(doc["models"], doc["lambda"]) and not doc["run"]["targets_met"]:
        print("bench-peers: some targets are not met (FAIL/MISSING above)")
        exit_code = EXIT_TARGET_FAILED
    return exit_code
