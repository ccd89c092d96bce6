"""One model's run: every server started fresh per round and measured in turn with wrk, then the open-loop rate sweep."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from twinserve_support.paths import REPO

from twinbench.measure.wrk import run_wrk, wrk_lua_script, wrk_version
from twinbench.peers.compare import evaluate_targets, median_summary
from twinbench.peers.servers import (
    CONCURRENCIES,
    MODEL_KINDS,
    SERVER_ORDER,
    SWEEP_SLO_MS,
    ModelFiles,
    ServerProcess,
    ServerSpec,
    build_specs,
    predicted_label,
    probe,
)
from twinbench.results.envinfo import load_average


@dataclass
class PeersConfig:
    """One ``bench-peers`` run. Durations in seconds, rates in requests per second."""

    models: tuple[str, ...] = MODEL_KINDS
    servers: tuple[str, ...] = SERVER_ORDER
    rounds: int = 3
    duration_s: float = 10.0
    warmup_s: float = 2.0
    concurrencies: tuple[int, ...] = CONCURRENCIES
    sweep_rates: tuple[float, ...] = (100.0, 300.0, 900.0)
    sweep_step_s: float = 3.0
    sweep_timeout_s: float = 5.0
    work_dir: Path = REPO / "build" / "peers"
    results_dir: Path = REPO / "results"
    wrk: str = "wrk"
    python: str = sys.executable
    mlserver_bin: Path = REPO / ".venv-mlserver" / "bin" / "mlserver"
    run_lambda: bool = False
    lambda_package: Path = REPO / "build" / "lambda" / "pkg"
    lambda_handler: str = "handler.handler"
    lambda_cold_samples: int = 5
    lambda_warm_samples: int = 30

    @property
    def venv_bin(self) -> Path:
        return Path(self.python).parent


def run_sweep(spec: ServerSpec, rates: Sequence[float], step_s: float, timeout_s: float) -> dict[str, object]:
    """Open-loop steps at increasing rates; stops after the first step that is not sustained."""
    import asyncio

    from twinbench.measure.loadgen import LoadGenerator, step_result
    from twinbench.measure.stats import Step, find_knee

    async def one_step(rate: float) -> dict[str, object]:
        async with LoadGenerator(spec.base_url, spec.body, path=spec.predict_path, timeout_s=timeout_s) as gen:
            outcomes, generator = await gen.open_loop(rate, step_s)
        return step_result(outcomes, generator, offered_rps=rate, duration_s=step_s)

    steps: list[dict[str, object]] = []
    knee_steps: list[Step] = []
    for rate in sorted(rates):
        raw = asyncio.run(one_step(rate))
        latency = raw["latency"]  # type: ignore[index]
        step = {
            "offered_rps": rate,
            "achieved_rps": raw["achieved_rps"],
            "sent": raw["sent"], "ok": raw["ok"], "errors": raw["errors"], "timeouts": raw["timeouts"],
            "error_rate": raw["error_rate"],
            "p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"],  # type: ignore[index]
            "latency": latency,
            "generator": raw["generator"],
            "generator_bottleneck": raw["generator"]["bottleneck"],  # type: ignore[index]
            "samples_ms": raw["samples_ms"],
        }
        steps.append(step)
        knee_steps.append(Step(rate, float(raw["achieved_rps"]), latency["p99_ms"],  # type: ignore[arg-type,index]
                               float(raw["error_rate"])))  # type: ignore[arg-type]
        if find_knee(knee_steps[-1:], SWEEP_SLO_MS) is None:
            break  # saturated: higher rates would only build a backlog
    return {"slo_ms": SWEEP_SLO_MS, "knee_rps": find_knee(knee_steps, SWEEP_SLO_MS), "steps": steps}


def run_model(model: ModelFiles, cfg: PeersConfig, note: Callable[[str], None], logs_dir: Path) -> dict[str, object]:
    """Start every server for ``model``, run the interleaved rounds, return the model's result record."""
    specs = build_specs(model, cfg.work_dir, cfg.servers, cfg.venv_bin, cfg.mlserver_bin)
    script = cfg.work_dir / f"wrk-{model.kind}"
    script.mkdir(parents=True, exist_ok=True)
    scripts = {}
    for spec in specs:
        path = script / f"{spec.name}.lua"
        path.write_text(wrk_lua_script(spec.body))
        scripts[spec.name] = path
    record: dict[str, object] = {"model": model.kind, "model_dir": str(model.model_dir),
                                 "model_joblib": str(model.joblib_path), "servers": {}}
    servers: dict[str, dict[str, object]] = record["servers"]  # type: ignore[assignment]
    with contextlib.ExitStack() as stack:
        procs: dict[str, ServerProcess] = {}
        for spec in specs:
            note(f"{model.kind}: starting {spec.name} ...")
            proc = stack.enter_context(ServerProcess(spec, logs_dir / f"{model.kind}-{spec.name}.log"))
            procs[spec.name] = proc
            answer = probe(spec)
            servers[spec.name] = {
                "label": spec.label, "argv": spec.argv, "settings": spec.settings,
                "predict_url": spec.base_url + spec.predict_path, "request_body": spec.body.decode(),
                "ready_ms": round(proc.ready_ms or 0.0, 1), "keep_alive": answer["keep_alive"],
                "connection_header": answer["connection_header"], "probe_status": answer["status"],
                "predicted_label": predicted_label(spec.name, answer["answer"]),
                "warmup": None, "rounds": [], "sweeps": [],
            }
        labels = {name: s["predicted_label"] for name, s in servers.items()}
        record["labels_agree"] = len({json.dumps(v) for v in labels.values()}) == 1
        if not record["labels_agree"]:
            note(f"WARNING {model.kind}: servers disagree on the example row's class: {labels}")
        for spec in specs:  # warm-up, discarded from the statistics
            servers[spec.name]["warmup"] = run_wrk(cfg.wrk, spec.base_url + spec.predict_path,
                                                   scripts[spec.name], 8, cfg.warmup_s)
            procs[spec.name].wait_quiet()
        for r in range(cfg.rounds):
            load = load_average()
            note(f"{model.kind}: round {r + 1}/{cfg.rounds} (load average {load})")
            for spec in specs:
                proc = procs[spec.name]
                steps = []
                for c in cfg.concurrencies:
                    cpu0 = proc.cpu_s()
                    step = run_wrk(cfg.wrk, spec.base_url + spec.predict_path, scripts[spec.name], c, cfg.duration_s)
                    step["server_cpu_cores"] = round((proc.cpu_s() - cpu0) / max(step["duration_s"], 1e-9), 2)  # type: ignore[arg-type]
                    step["load_average"] = load_average()
                    steps.append(step)
                    note(f"  {spec.name:<15} c={c:<3} {step['rps']:>8.1f} rps  p50 {step['p50_ms']:>8.2f} ms"
                         f"  p99 {step['p99_ms']:>8.2f} ms  errors {sum(step['errors'].values())}"  # type: ignore[union-attr]
                         f"  wrk cpu {step['wrk_cpu_fraction']}  server cpu {step['server_cpu_cores']}")
                servers[spec.name]["rounds"].append({"round": r + 1, "load_average_before": load, "steps": steps})  # type: ignore[union-attr]
                proc.wait_quiet()
                if cfg.sweep_rates:
                    sweep = run_sweep(spec, cfg.sweep_rates, cfg.sweep_step_s, cfg.sweep_timeout_s)
                    servers[spec.name]["sweeps"].append(sweep)  # type: ignore[union-attr]
                    waited = proc.wait_quiet()
                    note(f"  {spec.name:<15} sweep knee {sweep['knee_rps']} rps (quiet after {waited:.1f} s)")
    summary: dict[str, dict[int, dict[str, object]]] = {}
    for name, data in servers.items():
        summary[name] = {}
        for c in cfg.concurrencies:
            per_round = [next(s for s in rnd["steps"] if s["concurrency"] == c) for rnd in data["rounds"]]  # type: ignore[index,union-attr]
            summary[name][c] = median_summary(per_round)
    record["summary"] = {name: {str(c): v for c, v in cells.items()} for name, cells in summary.items()}
    record["targets"] = evaluate_targets(model.kind, summary)
    record["_summary_int"] = summary  # dropped before writing
    return record


def environment(cfg: PeersConfig) -> dict[str, object]:
    from twinbench.results import envinfo

    env = envinfo.collect()
    env["wrk_version"] = wrk_version(cfg.wrk)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([str(cfg.mlserver_bin.parent / "python"), "-c",
                              "from importlib.metadata import version as v; import json; print(json.dumps("
                              "{n: v(n) for n in ('mlserver', 'mlserver-sklearn', 'uvloop', 'scikit-learn')}))"],
                             capture_output=True, text=True, timeout=30)
        env["mlserver_venv"] = json.loads(out.stdout) if out.returncode == 0 else None
    return env
