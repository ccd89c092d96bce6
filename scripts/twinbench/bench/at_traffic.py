"""The bench's "at your traffic" step: the measured run replayed by the simulator, then the quick search.

Both read results.json as ``twinbench simulate`` / ``twinbench recommend --from <run>`` read it, so
the report's figures can be reproduced with the commands they store; a failure of either returns a
``skipped`` section and never loses the measurements.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twinserve_support.paths import REPO

__all__ = ["SEARCH_BUDGET_S", "search_at_traffic", "simulate_at_traffic", "traffic_argv"]


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
        profiles.check_simulatable(profile)  # a trace past the simulator's bounds is skipped, not run for hours
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
