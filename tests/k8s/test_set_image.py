"""scripts/k8s_set_image.py (`make k8s-image`): `kustomize edit set image` without kustomize,
plus the model pin written into the overlay's ConfigMap."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import k8s_set_image
import pytest
from k8s_tools import REPO, SERVICE_PYTHONPATH, configmap, container, copy_k8s, free_port, render

SCRIPT = REPO / "scripts" / "k8s_set_image.py"
DIGEST = "sha256:" + "cd" * 32
WRONG = "0123456789abcdef" * 4


def set_image(overlay: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(overlay), *args], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture()
def k8s(tmp_path: Path) -> Path:
    return copy_k8s(tmp_path)


def metadata_sha256(model_dir: Path) -> str:
    """The deployment's pin: the hash of metadata.json, which pins every artefact."""
    return hashlib.sha256((model_dir / "metadata.json").read_bytes()).hexdigest()


def test_dev_points_at_a_registry_tag_and_pins_the_model(k8s, rf_dir):
    overlay = k8s / "overlays" / "dev"
    before = (overlay / "kustomization.yaml").read_text()
    result = set_image(overlay, "--image", "registry.example.com:5000/team/twinserve-predict:1.2", "--model-dir", str(rf_dir))
    assert result.returncode == 0, result.stderr
    objects = render(overlay)
    assert container(objects)["image"] == "registry.example.com:5000/team/twinserve-predict:1.2"
    assert configmap(objects)["MODEL_SHA256"] == metadata_sha256(rf_dir)
    assert render(k8s) == objects, "`kubectl apply -k k8s/` follows the dev overlay"
    # Everything above `images:` (comments included) is kept byte for byte.
    after = (overlay / "kustomization.yaml").read_text()
    head = before[: before.index("\nimages:")]
    assert after.startswith(head) and after.count("images:") == 1
    assert "newTag: '1.2'" in after, "a tag that looks like a number stays a string"


def test_running_it_twice_is_idempotent(k8s, rf_dir):
    overlay = k8s / "overlays" / "dev"
    args = ("--image", "localhost/twinserve-predict:0.9.0", "--model-dir", str(rf_dir))
    assert set_image(overlay, *args).returncode == 0
    first = (overlay / "kustomization.yaml").read_text(), (overlay / "model.env").read_text()
    assert set_image(overlay, *args).returncode == 0
    assert ((overlay / "kustomization.yaml").read_text(), (overlay / "model.env").read_text()) == first


def test_prod_takes_a_digest_and_renders_it(k8s):
    overlay = k8s / "overlays" / "prod"
    result = set_image(overlay, "--image", f"ghcr.io/acme/twinserve-predict@{DIGEST}", "--model-sha256", WRONG.upper())
    assert result.returncode == 0, result.stderr
    objects = render(overlay)
    assert container(objects)["image"] == f"ghcr.io/acme/twinserve-predict@{DIGEST}"
    assert configmap(objects)["MODEL_SHA256"] == WRONG


def test_prod_refuses_a_tag(k8s):
    overlay = k8s / "overlays" / "prod"
    before = (overlay / "kustomization.yaml").read_text()
    result = set_image(overlay, "--image", "ghcr.io/acme/twinserve-predict:1.0", "--model-sha256", "none")
    assert result.returncode == 2
    assert "pinned by digest and takes digests only" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (overlay / "kustomization.yaml").read_text() == before


def test_none_clears_the_pin(k8s):
    overlay = k8s / "overlays" / "dev"
    assert set_image(overlay, "--image", "localhost/twinserve-predict:1", "--model-sha256", WRONG).returncode == 0
    assert set_image(overlay, "--image", "localhost/twinserve-predict:1", "--model-sha256", "none").returncode == 0
    assert configmap(render(overlay))["MODEL_SHA256"] == ""


@pytest.mark.parametrize(("args", "message"), [
    (["--image", "ghcr.io/acme/twinserve-predict"], "names neither a tag nor a digest"),
    (["--image", "GHCR.io/Acme/Twin Serve:1"], "is not an image reference"),
    (["--image", "x/y:1", "--model-sha256", "abc"], "--model-sha256 must be 64 hex digits or none"),
    (["--image", "x/y:1", "--model-dir", "/nonexistent/model"], "run `make model` first"),
])
def test_bad_input_is_one_line_and_exit_2_and_writes_nothing(k8s, args, message):
    overlay = k8s / "overlays" / "dev"
    before = sorted((p.name, p.read_bytes()) for p in overlay.iterdir())
    result = set_image(overlay, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert sorted((p.name, p.read_bytes()) for p in overlay.iterdir()) == before


@pytest.mark.parametrize("artefact", ["serving", "source"])
def test_an_inconsistent_model_folder_is_refused(k8s, rf_dir, tmp_path, artefact):
    """metadata.json pins every artefact: a folder whose files differ from it is not pinned."""
    model = Path(shutil.copytree(rf_dir, tmp_path / "model"))
    metadata = json.loads((model / "metadata.json").read_text())
    metadata["artefacts"][artefact]["sha256"] = WRONG
    (model / "metadata.json").write_text(json.dumps(metadata))
    result = set_image(k8s / "overlays" / "dev", "--image", "x/y:1", "--model-dir", str(model))
    assert result.returncode == 2 and "rebuild the model" in result.stderr


def test_the_pin_is_the_hash_of_metadata_json_from_model_dir(k8s, rf_dir, monkeypatch):
    """MODEL_DIR names the folder when --model-dir is not given (as the deploy script passes it)."""
    overlay = k8s / "overlays" / "dev"
    monkeypatch.setenv("MODEL_DIR", str(rf_dir))
    result = set_image(overlay, "--image", "x/y:1")
    assert result.returncode == 0, result.stderr
    assert configmap(render(overlay))["MODEL_SHA256"] == metadata_sha256(rf_dir)
    assert f"({rf_dir / 'metadata.json'})" in result.stdout


@pytest.mark.parametrize("fail_at", [1, 2])
def test_both_files_are_replaced_together_or_not_at_all(k8s, monkeypatch, fail_at):
    """A failed rename (the first, or the second after the first succeeded) leaves both files
    as they were, and no temporary file behind."""
    overlay = k8s / "overlays" / "dev"
    before = sorted((p.name, p.read_bytes(), p.stat().st_mode) for p in overlay.iterdir())
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(k8s_set_image.os, "replace", replace)
    code = k8s_set_image.main([str(overlay), "--image", "x/y:1", "--model-sha256", WRONG])
    assert code == 1 and len(calls) >= fail_at
    assert sorted((p.name, p.read_bytes(), p.stat().st_mode) for p in overlay.iterdir()) == before


def test_written_files_keep_their_mode(k8s):
    overlay = k8s / "overlays" / "dev"
    (overlay / "model.env").chmod(0o640)
    assert set_image(overlay, "--image", "x/y:1", "--model-sha256", WRONG).returncode == 0
    assert (overlay / "model.env").stat().st_mode & 0o777 == 0o640
    assert (overlay / "kustomization.yaml").stat().st_mode & 0o777 == 0o644


def test_the_pin_written_for_a_pod_refuses_a_different_model(k8s, rf_dir, tmp_path):
    """The whole path: the overlay's ConfigMap as the pod sees it, gunicorn started with it,
    a model that is not the pinned one -> the master exits naming both hashes."""
    overlay = k8s / "overlays" / "dev"
    assert set_image(overlay, "--image", "localhost/twinserve-predict:1", "--model-sha256", WRONG).returncode == 0
    env = {**os.environ, **configmap(render(overlay)), "MODEL_PATH": str(rf_dir), "HOST": "127.0.0.1",
           "PORT": str(free_port()), "WEB_CONCURRENCY": "1", "PYTHONPATH": SERVICE_PYTHONPATH}
    proc = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "twinserve_flask.wsgi:app"],
                          cwd=REPO / "services" / "predict-container", env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert "ModelPinMismatch" in proc.stderr and WRONG in proc.stderr and metadata_sha256(rf_dir) in proc.stderr
