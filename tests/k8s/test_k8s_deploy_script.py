"""scripts/deploy_k8s.sh: preflight, --dry-run, and the real path against stub tools.

The dry run uses the real pinned kubectl and kubernetes-validate. The real path runs
with stand-ins for podman and kubectl (no registry or cluster is reachable here) that
record their calls; `kubectl kustomize` is passed through to the real kubectl.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from k8s_tools import tools_bin
from twinserve_support.paths import REPO  # noqa: E402

SCRIPT = REPO / "scripts" / "deploy_k8s.sh"
DIGEST = "sha256:" + "ab" * 32
FAKE_METADATA = b'{"artefacts": {}}'


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    """A model folder whose metadata.json lists no artefact: enough to be pinned."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "metadata.json").write_bytes(FAKE_METADATA)
    return folder


def run(args: list[str], tmp_path: Path, path_prefix: list[Path] | None = None, **env: str):
    tools = tools_bin()
    dirs = [*(path_prefix or []), tools, Path("/usr/bin"), Path("/bin")]
    full_env = {"PATH": os.pathsep.join(map(str, dirs)), "HOME": str(tmp_path),
                "BUILD_DIR": str(tmp_path / "build"), **env}
    return subprocess.run(["bash", str(SCRIPT), *args], env=full_env, capture_output=True, text=True,
                          timeout=120)


def run_dir(tmp_path: Path, overlay: str) -> Path:
    """The one run folder (mktemp -d) a single run of the script made under BUILD_DIR."""
    (folder,) = (tmp_path / "build").glob(f"{overlay}.*")
    return folder


@pytest.mark.parametrize(("overlay", "namespace"), [("dev", "twinserve-dev"), ("prod", "twinserve")])
def test_dry_run_renders_and_validates_without_a_cluster(tmp_path, overlay, namespace):
    result = run(["--dry-run", "--env", overlay, "--tag", "t1"], tmp_path, REGISTRY="ghcr.io/acme")
    assert result.returncode == 0, result.stderr
    rendered = (run_dir(tmp_path, overlay) / f"{overlay}.yaml").read_text()
    assert "image: ghcr.io/acme/twinserve-predict:t1" in rendered
    assert f"namespace '{namespace}'" in result.stderr
    assert "strict schema of Kubernetes 1.37.0: ok" in result.stderr
    assert "nothing was built, pushed or applied" in result.stderr
    # The committed tree is untouched: the image is set in a throwaway overlay.
    assert "ghcr.io" not in (REPO / "k8s" / "overlays" / overlay / "kustomization.yaml").read_text()


def test_dry_run_needs_no_registry(tmp_path):
    result = run(["--dry-run", "--tag", "t2"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "registry.invalid/twinserve-predict:t2" in (run_dir(tmp_path, "dev") / "dev.yaml").read_text()


def test_each_run_has_its_own_folder(tmp_path):
    """Two deploys of one environment never write into each other's overlay or renders."""
    for tag in ("a1", "a2"):
        assert run(["--dry-run", "--tag", tag], tmp_path).returncode == 0
    folders = sorted((tmp_path / "build").glob("dev.*"))
    assert len(folders) == 2
    assert ["registry.invalid/twinserve-predict:a1" in (f / "dev.yaml").read_text() for f in folders].count(True) == 1


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--env", "staging"], {}, "no overlay 'staging'; choose one of: dev monitoring prod"),
    (["--tag", "t3"], {}, "REGISTRY is not set"),
    (["--tag", "bad tag!"], {"REGISTRY": "r.example"}, "not a valid image tag"),
    (["--bogus"], {}, "unknown argument: --bogus"),
])
def test_preflight_failures_exit_2_with_a_clear_message(tmp_path, args, env, message):
    result = run(args, tmp_path, **env)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "build").exists() or not any((tmp_path / "build").iterdir())


def test_a_build_here_bakes_and_pins_model_dir(tmp_path, model_dir):
    """`make image` is given the folder whose metadata.json is pinned, so the pods accept the image."""
    stubs = real_path_stubs(tmp_path)
    write_stub(stubs / "make", "exit 0")
    calls = tmp_path / "calls.log"
    result = run(["--tag", "t7"], tmp_path, [stubs], REGISTRY="r.example", MODEL_DIR=str(model_dir), CALLS=str(calls))
    assert result.returncode == 0, result.stderr
    assert f"make -C {REPO} --no-print-directory image IMAGE=localhost/twinserve-predict:t7 MODEL_DIR={model_dir}" \
        in calls.read_text().splitlines()
    pin = hashlib.sha256(FAKE_METADATA).hexdigest()
    assert f"MODEL_SHA256={pin}" in (run_dir(tmp_path, "dev") / "overlay" / "model.env").read_text()


def test_missing_kube_context_is_a_preflight_error(tmp_path, model_dir):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    write_stub(stubs / "podman", "exit 0")
    write_stub(stubs / "kubectl", 'case "$1" in config) exit 1 ;; *) exit 0 ;; esac')
    result = run(["--tag", "t4", "--image", "local/x:1"], tmp_path, [stubs], REGISTRY="r.example",
                 MODEL_DIR=str(model_dir), CALLS=str(tmp_path / "calls.log"))
    assert result.returncode == 2
    assert "no current kube context" in result.stderr


def write_stub(path: Path, body: str) -> None:
    path.write_text(f'#!/usr/bin/env bash\necho "$(basename "$0") $*" >> "$CALLS"\n{body}\n')
    path.chmod(0o755)


def real_path_stubs(tmp_path: Path, standin: str = "") -> Path:
    """podman (its image inspect answers ``standin`` for the stand-in label) and kubectl."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    write_stub(stubs / "podman", f"""
if [ "$1" = push ]; then printf '%s' '{DIGEST}' > "$3"; fi
if [ "$1" = image ]; then printf '%s\\n' '{standin}'; fi""")
    real_kubectl = shutil.which("kubectl", path=str(tools_bin()))
    write_stub(stubs / "kubectl", f"""
case "$*" in
  kustomize*) exec {real_kubectl} "$@" ;;
  "config current-context") echo stub-ctx ;;
  *"get service"*jsonpath=\\{{.spec.clusterIP*) printf '10.0.0.7:80' ;;
  *"get service"*) ;;
esac""")
    return stubs


INSPECT = "podman image inspect --format {{ index .Config.Labels \"org.twinserve.standin\" }}"


def test_real_path_pushes_pins_the_digest_applies_and_waits(tmp_path, model_dir):
    calls = tmp_path / "calls.log"
    result = run(["--env", "dev", "--tag", "t5", "--image", "localhost/twinserve-predict:built"],
                 tmp_path, [real_path_stubs(tmp_path)], REGISTRY="registry.example.com/team", CALLS=str(calls),
                 MODEL_DIR=str(model_dir))
    assert result.returncode == 0, result.stderr
    log = [line for line in calls.read_text().splitlines() if not line.startswith("kubectl kustomize")]
    image = "registry.example.com/team/twinserve-predict"
    folder = run_dir(tmp_path, "dev")
    stage = folder / "overlay"
    assert log == [
        "kubectl config current-context",
        "kubectl version --request-timeout=10s",
        f"{INSPECT} localhost/twinserve-predict:built",
        f"podman tag localhost/twinserve-predict:built {image}:t5",
        f"podman push --digestfile {folder}/digest {image}:t5",
        f"kubectl get -f {folder}/dev.yaml -o json --ignore-not-found",
        "kubectl --namespace twinserve-dev get deployment twinserve-predict --ignore-not-found -o jsonpath="
        "{.metadata.annotations.deployment\\.kubernetes\\.io/revision} "
        "{.spec.template.spec.containers[*].envFrom[*].configMapRef.name}",
        f"kubectl apply -k {stage}",
        "kubectl --namespace twinserve-dev rollout status deployment/twinserve-predict --timeout 300s",
        "kubectl --namespace twinserve-dev get service twinserve-predict -o "
        "jsonpath={.spec.clusterIP}:{.spec.ports[0].port}",
        "kubectl --namespace twinserve-dev get service twinserve-predict -o "
        "jsonpath={.status.loadBalancer.ingress[0].hostname}{.status.loadBalancer.ingress[0].ip}",
    ]
    # What was applied is pinned to the pushed digest, and was schema-validated.
    assert f"image: {image}@{DIGEST}" in (folder / "dev.yaml").read_text()
    assert f"digest: {DIGEST}" in (stage / "kustomization.yaml").read_text()
    assert "service: http://10.0.0.7:80" in result.stdout
    assert "port-forward service/twinserve-predict 8080:80" in result.stdout
    # The pin is the hash of the model folder's metadata.json (MODEL_DIR).
    assert f"MODEL_SHA256={hashlib.sha256(FAKE_METADATA).hexdigest()}" in (stage / "model.env").read_text()


@pytest.mark.parametrize("flag", [True, False])
def test_an_image_on_the_stand_in_base_is_never_pushed(tmp_path, model_dir, flag):
    calls = tmp_path / "calls.log"
    args = ["--tag", "t6", "--image", "localhost/twinserve-predict:built"]
    args += ["--model-dir", str(model_dir)] if flag else []
    result = run(args, tmp_path, [real_path_stubs(tmp_path, standin="true")], REGISTRY="r.example",
                 CALLS=str(calls), **({} if flag else {"MODEL_DIR": str(model_dir)}))
    assert result.returncode == 2
    errors = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert errors == [result.stderr.strip().splitlines()[-1]], "one error line, the last one"
    assert errors[0].startswith("error: refusing to push localhost/twinserve-predict:built: it is built on the "
                                "stand-in base (label org.twinserve.standin=true)")
    assert not [c for c in calls.read_text().splitlines() if c.startswith(("podman tag", "podman push", "kubectl apply"))]


@pytest.mark.parametrize(("make", "extra", "message"), [
    (lambda p: p.write_text("not a folder"), [], "is not a directory"),
    (lambda p: (p.mkdir(), (p / "metadata.json").write_bytes(b"\xff{oops")), [], "metadata.json is not readable JSON"),
    (lambda p: p.mkdir(), ["--model-sha256", "none"], "--model-dir and --model-sha256 exclude each other"),
], ids=["a-file", "bad-metadata", "with-model-sha256"])
def test_a_bad_model_dir_is_a_preflight_error_even_in_a_dry_run(tmp_path, make, extra, message):
    make(tmp_path / "m")
    result = run(["--dry-run", "--model-dir", str(tmp_path / "m"), *extra], tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "build").exists() or not any((tmp_path / "build").iterdir())
