"""Short synthetic traces (steady, bursty, sparse) written as the per-minute CSV users give."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from twinbench.cli import simulate as simulate_cli
from twinbench.simulate.engine import SimulationConfig

MINUTES = 120


def _counts(kind: str) -> np.ndarray:
    m = np.arange(MINUTES)
    if kind == "steady":
        return np.full(MINUTES, 600)  # 10 req/s
    if kind == "bursty":
        c = np.full(MINUTES, 120)  # 2 req/s with 5-minute bursts at 40 req/s every 30 minutes
        c[(m % 30) < 5] = 2400
        return c
    if kind == "sparse":
        c = np.zeros(MINUTES, dtype=int)
        c[m % 7 == 0] = 3  # a few requests every 7 minutes
        return c
    raise ValueError(kind)


@pytest.fixture(scope="session")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("traces")
    out = {}
    for kind in ("steady", "bursty", "sparse"):
        path = folder / f"{kind}.csv"
        lines = ["minute,requests", *(f"{i},{int(v)}" for i, v in enumerate(_counts(kind)))]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out[kind] = path
    return out


def simulate_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    simulate_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def base_config(*argv: str) -> SimulationConfig:
    return simulate_cli.build_config(simulate_args(*argv))
