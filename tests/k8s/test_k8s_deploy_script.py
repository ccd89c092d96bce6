"""scripts/deploy_k8s.sh: preflight, --dry-run, and the real path against stub tools.

The dry run uses the real pinned kubectl and kubernetes-validate. The real path runs
with stand-ins for podman and kubectl (no registry or cluster is reachable here) that
record their calls; `kubectl kustomize` is passed through to the real kubectl.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from k8s_tools import tools_bin
from twinbench.project.paths import REPO  # noqa: E402

SCRIPT = REPO / "scripts" / "deploy_k8s.sh"
DIGEST = "sha256:" + "ab" * 32




def run(args: list[str], tmp_path: Path, path_prefix: list[Path] | None = None, **env: str):
    tools = tools_bin()
    dirs = [*(path_prefix or []), tools, Path("/usr/bin"), Path("/bin")]
    full_env = {"PATH": os.pathsep.join(map(str, dirs)), "HOME": str(tmp_path),
                "BUILD_DIR": str(tmp_path / "build"), **env}
    return subprocess.run(["bash", str(SCRIPT), *args], env=full_env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(("overlay", "namespace"), [("dev", "twinserve-dev"), ("prod", "twinserve")])
def test_dry_run_renders_and_validates_without_a_cluster(tmp_path, overlay, namespace):
    result = run(["--dry-run", "--env", overlay, "--tag", "t1"], tmp_path, REGISTRY="ghcr.io/acme")
    assert result.returncode == 0, result.stderr
    rendered = (tmp_path / "build" / f"{overlay}.yaml").read_text()
    assert "image: ghcr.io/acme/twinserve-predict:t1" in rendered
    assert f"namespace '{namespace}'" in result.stderr
    assert "strict schema of Kubernetes 1.37.0: ok" in result.stderr
    assert "nothing was built, pushed or applied" in result.stderr
    # The committed tree is untouched: the image is set in a throwaway overlay.
    assert "ghcr.io" not in (REPO / "k8s" / "overlays" / overlay / "kustomization.yaml").read_text()


def test_dry_run_needs_no_registry(tmp_path):
    result = run(["--dry-run", "--tag", "t2"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "registry.invalid/twinserve-predict:t2" in (tmp_path / "build" / "dev.yaml").read_text()


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


def test_missing_kube_context_is_a_preflight_error(tmp_path):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    write_stub(stubs / "podman", "exit 0")
    write_stub(stubs / "kubectl", 'case "$1" in config) exit 1 ;; *) exit 0 ;; esac')
    result = run(["--tag", "t4", "--image", "local/x:1"], tmp_path, [stubs], REGISTRY="r.example")
    assert result.returncode == 2
    assert "no current kube context" in result.stderr


def write_stub(path: Path, body: str) -> None:
    path.write_text(f'#!/usr/bin/env bash\necho "$(basename "$0") $*" >> "$CALLS"\n{body}\n')
    path.chmod(0o755)


def test_real_path_pushes_pins_the_digest_applies_and_waits(tmp_path):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    calls = tmp_path / "calls.log"
    write_stub(stubs / "podman", f"""
if [ "$1" = push ]; then printf '%s' '{DIGEST}' > "$3"; fi""")
    real_kubectl = shutil.which("kubectl", path=str(tools_bin()))
    write_stub(stubs / "kubectl", f"""
case "$*" in
  kustomize*) exec {real_kubectl} "$@" ;;
  "config current-context") echo stub-ctx ;;
  *"get service"*jsonpath=\\{{.spec.clusterIP*) printf '10.0.0.7:80' ;;
  *"get service"*) ;;
esac""")
    result = run(["--env", "dev", "--tag", "t5", "--image", "localhost/twinserve-predict:built"],
                 tmp_path, [stubs], REGISTRY="registry.example.com/team", CALLS=str(calls))
    assert result.returncode == 0, result.stderr
    log = [line for line in calls.read_text().splitlines() if not line.startswith("kubectl kustomize")]
    image = "registry.example.com/team/twinserve-predict"
    stage = tmp_path / "build" / "dev"
    assert log == [
        "kubectl config current-context",
        "kubectl version --request-timeout=10s",
        f"podman tag localhost/twinserve-predict:built {image}:t5",
        f"podman push --digestfile {stage}/digest {image}:t5",
        f"kubectl apply -k {stage}",
        "kubectl --namespace twinserve-dev rollout status deployment/twinserve-predict --timeout 300s",
        "kubectl --namespace twinserve-dev get service twinserve-predict -o "
        "jsonpath={.spec.clusterIP}:{.spec.ports[0].port}",
        "kubectl --namespace twinserve-dev get service twinserve-predict -o "
        "jsonpath={.status.loadBalancer.ingress[0].hostname}{.status.loadBalancer.ingress[0].ip}",
    ]
    # What was applied is pinned to the pushed digest, and was schema-validated.
    assert f"image: {image}@{DIGEST}" in (tmp_path / "build" / "dev.yaml").read_text()
    assert f"digest: {DIGEST}" in (stage / "kustomization.yaml").read_text()
    assert "service: http://10.0.0.7:80" in result.stdout
    assert "port-forward service/twinserve-predict 8080:80" in result.stdout
