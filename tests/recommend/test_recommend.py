"""The search against the whole grid, the written files simulated again, the overlay checked."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from twinbench.recommend import space, write
from twinbench.recommend.run import recommend
from twinbench.simulate import engine
from twinbench.simulate.hpa import load_hpa_spec
from twinbench.simulate.slo import Slo, check_slo

from .conftest import base_config

REPO = Path(__file__).resolve().parents[2]
SLO = Slo(150.0, 99.0, 0.001)
RESULTS: dict[str, tuple] = {}


def _pair(kind: str, path: Path) -> tuple:
    if kind not in RESULTS:
        base = base_config("--trace", str(path), "--seed", "1")
        RESULTS[kind] = (recommend(base, SLO, quick=True), recommend(base, SLO, quick=True, exhaustive=True), base)
    return RESULTS[kind]


@pytest.mark.parametrize("kind", ["steady", "bursty", "sparse"])
def test_search_finds_the_grid_optimum_within_2_percent(kind, traces):
    rec, full, _ = _pair(kind, traces[kind])
    for platform in ("lambda", "kubernetes"):
        got, ref = rec.searches[platform], full.searches[platform]
        assert (got.best is None) == (ref.best is None), platform
        if ref.best is not None:
            assert got.best.cost_usd_per_month <= ref.best.cost_usd_per_month * 1.02, (kind, platform)
            assert got.best.feasible
        assert len(got.evaluated) <= len(ref.evaluated)


def test_the_document_matches_its_schema(traces):
    jsonschema = pytest.importorskip("jsonschema")
    rec, _, _ = _pair("bursty", traces["bursty"])
    schema = json.loads((REPO / "scripts/twinbench/results/schemas/recommendation.schema.json").read_text())
    jsonschema.validate(rec.doc, schema)
    assert rec.doc["format"] == "twinbench.recommendation" and rec.doc["version"] == 1
    for p in rec.doc["platforms"].values():
        assert {"feasible", "best", "shipped"} <= set(p)


def test_a_platform_missing_the_slo_is_never_the_winner(traces):
    rec, _, _ = _pair("bursty", traces["bursty"])
    winner = rec.doc["verdict"]["winner"]
    if winner is not None:
        assert rec.doc["platforms"][winner]["best"]["meets_slo"]


@pytest.mark.parametrize("kind", ["steady", "bursty", "sparse"])
def test_written_files_meet_the_slo_when_simulated_again(kind, traces, tmp_path):
    rec, _, _ = _pair(kind, traces[kind])
    chosen = {k: s.best.choice for k, s in rec.searches.items() if s.best is not None}
    written = write.write_all(rec.doc, chosen, tmp_path)
    argv = ["--trace", str(traces[kind]), "--seed", "1", "--slo-ms", "150"]
    if "lambda" in written:
        argv += ["--lambda-params", str(written["lambda"])]
    if "kubernetes" in written:
        kc = chosen["kubernetes"]
        argv += ["--overlay", str(written["kubernetes"].parent), "--provisioner", kc.provisioner,
                 "--min-nodes", str(rec.doc["platforms"]["kubernetes"]["best"]["min_nodes"])]
        if kc.provisioner != "fargate":
            argv += ["--instance", kc.instance_type]
    again = base_config(*argv)
    result = engine.simulate(again)
    for name, res in (("lambda", result.lambda_), ("kubernetes", result.kube)):
        if name in written:
            assert check_slo(res, SLO).meets, (kind, name)
            assert res["cost_usd_per_month"] == pytest.approx(rec.doc["platforms"][name]["best"]["cost_usd_per_month"],
                                                              rel=1e-6, abs=1e-3)


def test_nothing_feasible_names_the_binding_constraint(traces):
    base = base_config("--trace", str(traces["steady"]), "--platforms", "kubernetes")
    rec = recommend(base, Slo(1.0, 99.0, 0.001), quick=True)  # 1 ms: below the service time itself
    p = rec.doc["platforms"]["kubernetes"]
    assert not p["feasible"] and p["best"] is None and p["closest"] is not None
    assert p["binding"] == ["latency"]
    assert rec.doc["verdict"]["winner"] is None


KUBECTL = REPO / ".venv-tools" / "bin" / "kubectl"


def test_written_overlay_passes_the_k8s_checks(traces, tmp_path):
    assert KUBECTL.exists(), "make test builds the tools venv (the pinned kubectl) first: run make setup-tools"
    rec, _, _ = _pair("bursty", traces["bursty"])
    best = rec.searches["kubernetes"].best
    assert best is not None
    on_nodes = dataclasses.replace(best.choice, instance_type="t3.medium", provisioner="karpenter", warm_nodes=1)
    fargate = dataclasses.replace(best.choice, instance_type="fargate", provisioner="fargate", warm_nodes=0)
    fast = dataclasses.replace(best.choice, scale_up="fast", scale_down="fast")
    for i, choice in enumerate((best.choice, fast, on_nodes, fargate)):
        overlay = write.write_kube_overlay(choice, tmp_path / str(i), "test", min_nodes=3).parent
        text = (overlay / "kustomization.yaml").read_text()
        rendered = tmp_path / f"rendered{i}.yaml"
        rendered.write_bytes(subprocess.run([str(KUBECTL), "kustomize", str(overlay)], check=True,
                                            capture_output=True).stdout)
        py = str(REPO / ".venv-tools" / "bin" / "python")
        for check in (["schema", "--kubernetes-version", "1.37.0"], ["posture"]):
            out = subprocess.run([py, "scripts/k8s_validate.py", *check, str(rendered)], cwd=REPO,
                                 capture_output=True, text=True)
            assert out.returncode == 0, out.stdout + out.stderr
        if choice.provisioner == "fargate":  # the profile's selector is named, and the pods carry its label
            assert f"namespace {write.NAMESPACE} with the label twinserve-compute=fargate" in text
            assert rendered.read_text().count("twinserve-compute: fargate") >= 2  # the Deployment and its pods
        else:
            assert "keep at least 3 node(s) up" in text
        spec = load_hpa_spec(REPO / "k8s/base/hpa.yaml", overlay)  # what simulate --overlay reads back
        assert (spec.min_replicas, spec.max_replicas) == (choice.min_replicas, choice.max_replicas)
        if choice.scale_up == "fast":
            assert spec.scale_up.policies[0].value == 400
        if choice.scale_down == "fast":
            assert spec.scale_down.stabilization_s == space.FAST_SCALE_DOWN["stabilizationWindowSeconds"]


@pytest.mark.parametrize("content", ["not json", '{"params": [1]}'])
def test_deploy_script_refuses_a_bad_params_file(tmp_path, content):
    assert shutil.which("bash"), "bash is missing"
    f = tmp_path / "p.json"
    f.write_text(content)
    out = subprocess.run(["bash", "scripts/deploy_lambda.sh", "--preflight", "--params-file", str(f)], cwd=REPO,
                         capture_output=True, text=True, env={**os.environ, "PATH": os.environ["PATH"]})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "params-file" in out.stderr


def test_cli_exit_codes(traces, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts")}
    cmd = [sys.executable, "-m", "twinbench", "recommend", "--trace", str(traces["sparse"]), "--quick", "--quiet"]
    bad = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "--slo-ms" in bad.stderr and bad.stderr.count("\n") == 1
    out = tmp_path / "rec.json"
    ok = subprocess.run([*cmd, "--slo-ms", "500", "--out", str(out), "--write", str(tmp_path / "w")],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "deploy_lambda.sh" in ok.stdout and "kubectl apply -k" in ok.stdout
    assert json.loads(out.read_text())["format"] == "twinbench.recommendation"
