"""scripts/deploy_k8s.sh when the rollout does not finish: undo, restore, delete, say what happened.

kubectl is a stand-in that records its calls and answers from a "live" state built from the real
render of overlays/dev (every object already deployed once, with an older ConfigMap and HPA);
`kubectl kustomize` goes to the real, pinned kubectl. podman is a stand-in as well.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from k8s_tools import K8S, REPO, render, tools_bin

SCRIPT = REPO / "scripts" / "deploy_k8s.sh"
DIGEST = "sha256:" + "12" * 32
OLD_CONFIGMAP = "twinserve-predict-config-old0000000"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def live_state(tmp_path: Path) -> tuple[Path, Path]:
    """(live objects as `kubectl get -f -o json` prints them, the old ConfigMap)."""
    objects = render(K8S / "overlays" / "dev")
    (new_configmap,) = [o for o in objects if o["kind"] == "ConfigMap"]
    live = []
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            continue  # the new generated name is not live yet
        applied = json.loads(json.dumps(obj))
        if obj["kind"] == "HorizontalPodAutoscaler":
            applied["spec"]["maxReplicas"] = 5  # what the previous deploy had
        obj = {**obj, "metadata": {**obj["metadata"], "annotations": {LAST_APPLIED: json.dumps(applied)}}}
        live.append(obj)
    old = {**new_configmap, "metadata": {**new_configmap["metadata"], "name": OLD_CONFIGMAP}}
    old["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(old)}
    (tmp_path / "live.json").write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": live}))
    (tmp_path / "old-configmap.json").write_text(json.dumps(old))
    return tmp_path / "live.json", tmp_path / "old-configmap.json"


def write_stub(path: Path, body: str) -> None:
    path.write_text(f'#!/usr/bin/env bash\necho "$(basename "$0") $*" >> "$CALLS"\n{body}\n')
    path.chmod(0o755)


def stubs(tmp_path: Path, live: Path | None, old: Path | None, undo_exit: int = 0) -> Path:
    folder = tmp_path / "stubs"
    folder.mkdir()
    write_stub(folder / "podman", f"""if [ "$1" = push ]; then printf '%s' '{DIGEST}' > "$3"; fi""")
    real = shutil.which("kubectl", path=str(tools_bin()))
    live_cmd = f"cat {live}" if live else ":"
    old_cmd = f"cat {old}" if old else ":"
    revision_cmd = f"printf '3 {OLD_CONFIGMAP}'" if live else ":"
    write_stub(folder / "kubectl", f"""
statuses={tmp_path}/statuses
case "$*" in
  kustomize*) exec {real} "$@" ;;
  "config current-context") echo stub-ctx ;;
  "get -f "*) {live_cmd} ;;
  *"get deployment"*) {revision_cmd} ;;
  *"get configmap"*) {old_cmd} ;;
  *"rollout status"*) echo x >> "$statuses"; [ "$(wc -l < "$statuses")" -gt 1 ] ;;
  *"rollout undo"*) exit {undo_exit} ;;
  "apply -f "*) cp "$3" {tmp_path}/restored.yaml ;;
esac""")
    return folder


def deploy(tmp_path: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    model = tmp_path / "model"
    model.mkdir()
    (model / "metadata.json").write_text('{"artefacts": {}}')
    env = {"PATH": os.pathsep.join(map(str, [folder, tools_bin(), "/usr/bin", "/bin"])), "HOME": str(tmp_path),
           "BUILD_DIR": str(tmp_path / "build"), "CALLS": str(tmp_path / "calls.log"), "REGISTRY": "r.example",
           "MODEL_DIR": str(model), "ROLLOUT_TIMEOUT": "5s"}
    return subprocess.run(["bash", str(SCRIPT), "--tag", "t1", "--image", "localhost/twinserve-predict:1"],
                          env=env, capture_output=True, text=True, timeout=120)


def after_apply(tmp_path: Path) -> list[str]:
    lines = (tmp_path / "calls.log").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("kubectl apply -k"))
    return [line for line in lines[start + 1:] if not line.startswith("kubectl kustomize")]


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_a_failed_rollout_is_undone_and_the_previous_objects_restored(tmp_path):
    live, old = live_state(tmp_path)
    result = deploy(tmp_path, stubs(tmp_path, live, old))
    assert result.returncode == 1, result.stderr
    (folder,) = (tmp_path / "build").glob("dev.*")
    (new_configmap,) = [o["metadata"]["name"] for o in yaml.safe_load_all((folder / "dev.yaml").read_text())
                        if o["kind"] == "ConfigMap"]
    ns = "kubectl --namespace twinserve-dev"
    assert after_apply(tmp_path) == [
        f"{ns} rollout status deployment/twinserve-predict --timeout 5s",
        f"{ns} rollout undo deployment/twinserve-predict --to-revision 3",
        f"kubectl apply -f {folder}/rollback/restore.yaml",
        f"{ns} delete configmap/{new_configmap} --ignore-not-found",
        f"{ns} rollout status deployment/twinserve-predict --timeout 5s",
    ]
    restored = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all((tmp_path / "restored.yaml").read_text())}
    assert restored[("ConfigMap", OLD_CONFIGMAP)]["data"], "the ConfigMap the old pods use is put back"
    assert restored[("HorizontalPodAutoscaler", "twinserve-predict")]["spec"]["maxReplicas"] == 5
    assert ("Deployment", "twinserve-predict") not in restored, "rollout undo restores the Deployment"
    assert last_line(result).startswith(
        f"error: rollout of r.example/twinserve-predict@{DIGEST} did not finish; rolled back to revision 3 "
        f"with configmap/{OLD_CONFIGMAP}, 1 new object(s) deleted; see kubectl -n twinserve-dev describe")
    assert sum(line.startswith("error:") for line in result.stderr.splitlines()) == 1


def test_a_rollback_that_fails_exits_3_and_says_so(tmp_path):
    live, old = live_state(tmp_path)
    result = deploy(tmp_path, stubs(tmp_path, live, old, undo_exit=1))
    assert result.returncode == 3
    assert "the rollback did not complete either; the namespace is half-deployed" in last_line(result)
    assert not any(line.startswith("kubectl apply -f") for line in after_apply(tmp_path))


def test_a_failed_first_deploy_has_nothing_to_roll_back_to(tmp_path):
    result = deploy(tmp_path, stubs(tmp_path, None, None))
    assert result.returncode == 1
    assert "there is no previous version to roll back to" in last_line(result)
    assert "delete -k" in last_line(result)
    assert not any("rollout undo" in line for line in after_apply(tmp_path))


@pytest.mark.parametrize("text", ["", '{"apiVersion": "v1", "items": [], "kind": "List"}'])
def test_snapshot_of_nothing_live_is_a_first_deploy(tmp_path, text):
    (tmp_path / "live.json").write_text(text)
    rendered = K8S / "overlays" / "dev"
    (tmp_path / "r.yaml").write_text(yaml.safe_dump_all(render(rendered)))
    result = subprocess.run(["python3", str(REPO / "scripts" / "k8s_rollback.py"), "snapshot", "--rendered",
                             str(tmp_path / "r.yaml"), "--live", str(tmp_path / "live.json"), "--out",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "first-deploy").exists()
    assert (tmp_path / "out" / "restore.yaml").read_text() == ""
    assert "namespace/" not in (tmp_path / "out" / "created.txt").read_text()
