"""scripts/deploy_k8s.sh as a fresh clone runs it: no model/, no tools on PATH, no git.

The repository's scripts, k8s/ and Dockerfile are copied into a temporary tree; stand-ins for
make, podman and kubectl record their calls (`kubectl kustomize` goes to the real, pinned
kubectl). The order must be model, image, push, apply, and every missing prerequisite must be
one clear line with exit code 2.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from k8s_tools import REPO, configmap, container, one, tools_bin

DIGEST = "sha256:" + "ef" * 32
FAKE_ONNX = b"not really onnx, but a file with a hash"


@pytest.fixture()
def clone(tmp_path: Path) -> Path:
    """The files the script uses, laid out as in a fresh clone (without model/ or a venv)."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    for name in ("deploy_k8s.sh", "k8s_validate.py", "k8s_posture.py", "k8s_set_image.py", "k8s_rollback.py"):
        shutil.copy2(REPO / "scripts" / name, root / "scripts" / name)
    # k8s_validate.py reads the manifests through twinserve_support's k8s room (quantities, pod limits).
    shutil.copytree(REPO / "scripts" / "twinserve_support", root / "scripts" / "twinserve_support",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "k8s", root / "k8s")
    (root / "services" / "predict-container").mkdir(parents=True)
    shutil.copy2(REPO / "services" / "predict-container" / "Dockerfile", root / "services" / "predict-container")
    return root


def with_tools_venv(root: Path) -> None:
    """What `make setup-tools` leaves behind: .venv-tools/bin with kubectl and the validator's Python."""
    (root / ".venv-tools").symlink_to(tools_bin().parent, target_is_directory=True)


def write_stub(path: Path, body: str) -> None:
    path.write_text(f'#!/usr/bin/env bash\necho "$(basename "$0") $*" >> "$CALLS"\n{body}\n')
    path.chmod(0o755)


def stubs(tmp_path: Path, root: Path) -> Path:
    """make (its `image` target trains a stand-in model/), podman, and kubectl."""
    folder = tmp_path / "stubs"
    folder.mkdir()
    sha = hashlib.sha256(FAKE_ONNX).hexdigest()
    metadata = json.dumps({"artefacts": {"serving": {"path": "model.onnx", "sha256": sha},
                                         "source": {"path": "model.skops", "sha256": sha}}})
    write_stub(folder / "make", f"""
case "$*" in
  *" image "*) mkdir -p {root}/model && printf '%s' '{FAKE_ONNX.decode()}' > {root}/model/model.onnx \\
                 && cp {root}/model/model.onnx {root}/model/model.skops \\
                 && printf '%s' '{metadata}' > {root}/model/metadata.json ;;
esac""")
    write_stub(folder / "podman", f"""
if [ "$1" = push ]; then printf '%s' '{DIGEST}' > "$3"; fi""")  # image inspect: no stand-in label
    write_stub(folder / "kubectl", f"""
case "$*" in
  kustomize*) exec {tools_bin() / 'kubectl'} "$@" ;;
  "config current-context") echo stub-ctx ;;
  *"get service"*jsonpath=\\{{.spec.clusterIP*) printf '10.0.0.9:80' ;;
esac""")
    return folder


def run(root: Path, tmp_path: Path, args: list[str], path: list[Path], **env: str):
    full_env = {"PATH": ":".join(map(str, [*path, Path("/usr/bin"), Path("/bin")])), "HOME": str(tmp_path),
                "CALLS": str(tmp_path / "calls.log"), **env}
    return subprocess.run(["bash", str(root / "scripts" / "deploy_k8s.sh"), *args], env=full_env,
                          capture_output=True, text=True, timeout=120)


def run_dir(root: Path, overlay: str) -> Path:
    (folder,) = (root / "build" / "k8s-deploy").glob(f"{overlay}.*")
    return folder


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split(" --")[0] if line.startswith("make") else line
            for line in lines if not line.startswith("kubectl kustomize")]


def test_dry_run_finds_the_tools_venv_and_needs_no_model(clone, tmp_path):
    with_tools_venv(clone)
    result = run(clone, tmp_path, ["--dry-run", "--tag", "t1"], [])
    assert result.returncode == 0, result.stderr
    assert "strict schema of Kubernetes 1.37.0: ok" in result.stderr
    assert f"no {clone}/model/metadata.json, so no MODEL_SHA256 pin" in result.stderr
    objects = [d for d in yaml.safe_load_all((run_dir(clone, "dev") / "dev.yaml").read_text()) if d]
    assert container(objects)["image"] == "registry.invalid/twinserve-predict:t1"
    assert configmap(objects)["MODEL_SHA256"] == ""


def test_without_the_tools_venv_the_preflight_says_make_setup_tools(clone, tmp_path):
    result = run(clone, tmp_path, ["--dry-run", "--tag", "t1"], [])
    assert result.returncode == 2
    assert "make setup-tools" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_prebuilt_image_without_a_model_to_pin_is_a_preflight_error(clone, tmp_path):
    with_tools_venv(clone)
    result = run(clone, tmp_path, ["--tag", "t2", "--image", "localhost/twinserve-predict:0.1.0"],
                 [stubs(tmp_path, clone)], REGISTRY="r.example")
    assert result.returncode == 2
    assert "run 'make model'" in result.stderr and "--model-dir DIR or --model-sha256 HEX|none" in result.stderr
    assert calls(tmp_path) == [], "nothing may run before the preflight passes"


def test_bad_model_sha256_is_a_preflight_error(clone, tmp_path):
    with_tools_venv(clone)
    result = run(clone, tmp_path, ["--dry-run", "--tag", "t3", "--model-sha256", "abc"], [])
    assert result.returncode == 2 and "--model-sha256 must be 64 hex digits or none" in result.stderr


@pytest.mark.parametrize("args", [["--env"], ["--tag"], ["--image"], ["--model-sha256"]])
def test_an_option_without_a_value_is_a_usage_error(clone, tmp_path, args):
    with_tools_venv(clone)
    result = run(clone, tmp_path, args, [])
    assert result.returncode == 2 and f"{args[0]} needs a value" in result.stderr


def test_fresh_clone_deploys_in_order_model_image_push_apply(clone, tmp_path):
    with_tools_venv(clone)
    result = run(clone, tmp_path, ["--tag", "t4"], [stubs(tmp_path, clone)], REGISTRY="registry.example.com/team")
    assert result.returncode == 0, result.stderr
    image = "registry.example.com/team/twinserve-predict"
    folder = run_dir(clone, "dev")
    log = [c for c in calls(tmp_path) if not c.startswith(("podman image inspect", "kubectl get", "kubectl --namespace "
                                                                                                 "twinserve-dev get"))]
    assert log[:7] == [
        "kubectl config current-context",
        "kubectl version --request-timeout=10s",
        f"make -C {clone}",  # make image IMAGE=localhost/twinserve-predict:t4 (trains model/ first)
        f"podman tag localhost/twinserve-predict:t4 {image}:t4",
        f"podman push --digestfile {folder}/digest {image}:t4",
        f"kubectl apply -k {folder}/overlay",
        "kubectl --namespace twinserve-dev rollout status deployment/twinserve-predict --timeout 300s",
    ]
    assert "image IMAGE=localhost/twinserve-predict:t4" in (tmp_path / "calls.log").read_text()
    applied = [d for d in yaml.safe_load_all((folder / "dev.yaml").read_text()) if d]
    assert container(applied)["image"] == f"{image}@{DIGEST}"
    # The pods are pinned to the model the image was just built with: its metadata.json.
    assert configmap(applied)["MODEL_SHA256"] == hashlib.sha256((clone / "model" / "metadata.json").read_bytes()).hexdigest()
    assert "service: http://10.0.0.9:80" in result.stdout


ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"


def set_certificate(root: Path, arn: str = ARN) -> None:
    edge = root / "k8s" / "overlays" / "prod" / "edge.env"
    edge.write_text(edge.read_text().replace(
        "arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000", arn))


def test_prod_with_the_placeholder_certificate_is_a_preflight_error(clone, tmp_path):
    with_tools_venv(clone)
    result = run(clone, tmp_path, ["--env", "prod", "--tag", "t6", "--image", "localhost/twinserve-predict:0.1.0",
                                   "--model-sha256", "none"], [stubs(tmp_path, clone)], REGISTRY="ghcr.io/acme")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: preflight: the Ingress's certificate ARN is the committed placeholder: set CERTIFICATE_ARN "
        "(and LOAD_BALANCER_CIDR) in k8s/overlays/prod/edge.env")
    assert not [c for c in calls(tmp_path) if c.startswith(("podman", "kubectl apply"))]


def test_prod_deploy_pins_the_digest_and_names_the_load_balancer(clone, tmp_path):
    with_tools_venv(clone)
    set_certificate(clone)
    result = run(clone, tmp_path, ["--env", "prod", "--tag", "t5", "--image", "localhost/twinserve-predict:0.1.0",
                                   "--model-sha256", "none"], [stubs(tmp_path, clone)], REGISTRY="ghcr.io/acme")
    assert result.returncode == 0, result.stderr
    applied = [d for d in yaml.safe_load_all((run_dir(clone, "prod") / "prod.yaml").read_text()) if d]
    assert container(applied)["image"] == f"ghcr.io/acme/twinserve-predict@{DIGEST}"
    assert one(applied, "Ingress")["spec"]["ingressClassName"] == "alb"
    assert one(applied, "Ingress")["metadata"]["annotations"]["alb.ingress.kubernetes.io/certificate-arn"] == ARN
    assert "get ingress twinserve-predict" in result.stdout
    assert not (clone / "model").exists(), "with --image nothing is built"
