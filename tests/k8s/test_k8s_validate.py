"""scripts/k8s_validate.py: limits, describe, and the strict schema check (quantities: test_k8s_facts.py).

The schema tests run the script with .venv-tools' Python (where kubernetes-validate is
installed); without it they skip, or fail under TWINSERVE_K8S_STRICT=1 (make k8s-check).
"""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal
from pathlib import Path

import k8s_validate
import pytest
import yaml
from twinserve_support.paths import REPO  # noqa: E402

SCRIPT = REPO / "scripts" / "k8s_validate.py"
K8S_VERSION = "1.37.0"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: twinserve-predict, namespace: ns1}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: predict
          image: twinserve-predict:1
          resources: {limits: {cpu: 1500m, memory: 512Mi}}
"""


def tools_python() -> str:
    candidates = [Path(os.environ["TOOLS_BIN"]) / "python"] if os.environ.get("TOOLS_BIN") else []
    candidates.append(REPO / ".venv-tools" / "bin" / "python")
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    message = "no .venv-tools Python with kubernetes-validate: run `make setup-tools`"
    if os.environ.get("TWINSERVE_K8S_STRICT") == "1":
        pytest.fail(message)
    pytest.skip(message)


def run_schema(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(text)
    return subprocess.run([tools_python(), str(SCRIPT), "schema", "--kubernetes-version", K8S_VERSION,
                           str(manifest)], capture_output=True, text=True)


def test_limits_and_describe():
    objects = list(yaml.safe_load_all(DEPLOYMENT))
    limits = k8s_validate.predictor_limits(objects)
    assert (limits.cpu_cores, limits.memory_bytes) == (Decimal("1.5"), 512 * 2**20)
    assert k8s_validate.describe(objects)["namespace"] == "ns1"


def test_limits_cli_podman_flags(tmp_path, capsys):
    (tmp_path / "d.yaml").write_text(DEPLOYMENT)
    assert k8s_validate.main(["limits", str(tmp_path / "d.yaml"), "--format", "podman"]) == 0
    assert capsys.readouterr().out.strip() == f"--cpus=1.5 --memory={512 * 2**20}"


def test_a_malformed_limit_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "d.yaml").write_text(DEPLOYMENT.replace("1500m", "lots"))
    assert k8s_validate.main(["limits", str(tmp_path / "d.yaml")]) == 2
    assert "not a Kubernetes quantity: 'lots'" in capsys.readouterr().err


def test_limits_cli_under_the_tools_python(tmp_path):
    """The tools venv does not install the project: the script must still find twinserve_support.k8s."""
    (tmp_path / "d.yaml").write_text(DEPLOYMENT)
    result = subprocess.run([tools_python(), str(SCRIPT), "limits", str(tmp_path / "d.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert '"cpu_cores": 1.5' in result.stdout


def test_missing_deployment_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "e.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    assert k8s_validate.main(["limits", str(tmp_path / "e.yaml")]) == 2
    assert "no Deployment" in capsys.readouterr().err


def test_schema_accepts_a_valid_object(tmp_path):
    result = run_schema(tmp_path, DEPLOYMENT)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


@pytest.mark.parametrize(("text", "message"), [
    # Removed in Kubernetes 1.25: kubernetes-validate's CLI only warns about this.
    ("apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: x}\n", "Couldn't find schema"),
    ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n", "Couldn't find schema"),
    # Strict mode: an unknown (e.g. misspelt) field fails.
    ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selectr: {a: b}}\n", "selectr"),
])
def test_schema_fails_on_unknown_kinds_and_fields(tmp_path, text, message):
    result = run_schema(tmp_path, text)
    assert result.returncode == 1
    assert message in result.stderr


SUBCOMMANDS = [["schema", "--kubernetes-version", K8S_VERSION], ["limits"], ["posture"], ["describe"]]


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=lambda c: c[0])
def test_a_binary_file_is_one_line_exit_2(tmp_path, capsys, command):
    (tmp_path / "b.yaml").write_bytes(b"apiVersion: v1\n\xff\xfe\x00\x01binary")
    assert k8s_validate.main([*command, str(tmp_path / "b.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "b.yaml: not UTF-8 text (byte 15)" in err, err


@pytest.mark.parametrize("command", SUBCOMMANDS[1:], ids=lambda c: c[0])
@pytest.mark.parametrize("text", ["apiVersion: apps/v1\nkind: Deployment\n",
                                  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: twinserve-predict}\n"],
                         ids=["no-metadata", "no-spec"])
def test_an_object_without_the_fields_a_check_reads_is_one_line_exit_2(tmp_path, capsys, command, text):
    (tmp_path / "d.yaml").write_text(text)
    assert k8s_validate.main([*command, str(tmp_path / "d.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
