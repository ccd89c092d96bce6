"""Invariants of the container image that hadolint and checkov cannot see: the Dockerfile agrees
with the Kubernetes Deployment, the gunicorn entry, the pinned requirements and its build context.
(`make lint-dockerfile` runs the linters; `make image-smoke` builds and runs the image.)
"""

from __future__ import annotations

import re
import shlex

import pytest
import yaml
from twinserve_support.paths import REPO  # noqa: E402

DOCKERFILE = REPO / "services" / "predict-container" / "Dockerfile"
REQUIREMENTS = REPO / "services" / "predict-container" / "requirements.txt"
DOCKERIGNORE = REPO / ".dockerignore"
K8S_BASE = REPO / "k8s" / "base"
# Made by `make image` (the wheels, the requirements its model's backend needs, the model copied
# from MODEL_DIR).
GENERATED = {"build/image/wheels/", "build/image/debs/", "build/image/requirements.txt", "build/image/model/"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            result.append([])
        result[-1].append(ins)
    return result


def final_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in stages()[-1]:
        if keyword == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def deployment_container() -> dict:
    deployment = yaml.safe_load((K8S_BASE / "deployment.yaml").read_text())
    return deployment["spec"]["template"]["spec"]["containers"][0]


def configmap_literals() -> dict[str, str]:
    kustomization = yaml.safe_load((K8S_BASE / "kustomization.yaml").read_text())
    literals = kustomization["configMapGenerator"][0]["literals"]
    return dict(str(item).split("=", 1) for item in literals)


def test_base_image_is_pinned_by_tag_and_multi_stage():
    froms = [args for keyword, args in instructions() if keyword == "FROM"]
    assert len(froms) >= 3, "base, build and runtime stages"
    image = froms[0].split()[0]
    assert re.fullmatch(r"docker\.io/library/python:3\.12\.?[0-9]*-slim-bookworm(@sha256:[0-9a-f]{64})?", image)
    # Every later stage builds on the single pinned base (one place to change it).
    assert all(args.split()[0] in {"base", "build"} for args in froms[1:])
    assert froms[-1].split()[-1] == "runtime"


def test_no_add_and_runs_as_uid_10001_matching_k8s():
    keywords = [keyword for keyword, _ in instructions()]
    assert "ADD" not in keywords
    users = [args for keyword, args in stages()[-1] if keyword == "USER"]
    assert users and users[-1] == "10001:10001"
    ctx = deployment_container()["securityContext"]
    assert (ctx["runAsUser"], ctx["runAsGroup"]) == (10001, 10001)


def test_cmd_runs_gunicorn_with_the_repos_config_and_the_wsgi_entry():
    cmd = [args for keyword, args in stages()[-1] if keyword == "CMD"][-1]
    assert re.fullmatch(r'\["gunicorn", "(-c|--config)", "gunicorn.conf.py", "twinserve_flask.wsgi:app"\]', cmd)
    assert (REPO / "services" / "predict-container" / "gunicorn.conf.py").is_file()


def test_healthcheck_asks_liveness_on_the_side_listener():
    """The probe listener, not the request port: traffic cannot starve it (as the pod's probes)."""
    health = [args for keyword, args in stages()[-1] if keyword == "HEALTHCHECK"]
    assert len(health) == 1 and "/livez" in health[0] and "METRICS_PORT" in health[0]


def test_port_and_server_settings_agree_with_the_deployment_and_configmap():
    env = final_env()
    container = deployment_container()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    exposed = [args for keyword, args in stages()[-1] if keyword == "EXPOSE"]
    assert exposed == [f"{ports['http']} {ports['metrics']}"]
    assert env["PORT"] == str(ports["http"]) and env["METRICS_PORT"] == str(ports["metrics"])
    assert env["HOST"] == "0.0.0.0"  # a pod must listen on its own IP; local runs override it
    assert env["MODEL_PATH"] == "/app/model"
    literals = configmap_literals()
    for key in ("WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_GRACEFUL_TIMEOUT"):
        if key in literals:
            assert env[key] == literals[key], f"{key}: image {env[key]} vs ConfigMap {literals[key]}"


def test_python_wheels_come_only_from_the_host_downloaded_folder():
    runs = " ".join(args for keyword, args in instructions() if keyword == "RUN")
    for install in re.findall(r"pip[^&]* install[^&]*", runs):
        assert "--no-index" in install and "--find-links=/wheels" in install


def test_container_requirements_are_exact_pins():
    text = re.sub(r"\\\n", " ", REQUIREMENTS.read_text())  # a pin and its --hash lines are one requirement
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    reqs = [line.split()[0] for line in lines if line]
    assert reqs
    for req in reqs:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[0-9][A-Za-z0-9_.+!\-]*", req), req
    names = {re.split(r"[=\[]", req)[0].lower() for req in reqs}
    assert {"numpy", "onnxruntime", "orjson", "flask", "gunicorn"} <= names


def test_every_copied_path_exists_and_passes_the_dockerignore_allowlist():
    ignore = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", ".dockerignore is an allowlist"
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    sources = []
    for keyword, args in instructions():
        if keyword == "COPY" and "--from=" not in args:
            sources += shlex.split(args)[:-1]
    assert sources
    for src in sources:
        assert any(src == a or src.startswith(a.rstrip("/") + "/") for a in allowed), f"{src} not in .dockerignore"
        if src not in GENERATED:
            assert (REPO / src).exists(), src


@pytest.mark.parametrize("name", ["containers.conf.in", "storage.conf.in"])
def test_podman_config_is_project_owned(name):
    text = (REPO / "infra" / "podman" / name).read_text()
    assert "@PODMAN_ROOT@" in text  # rendered into build/podman/, never /etc or /var/lib
    if name == "containers.conf.in":
        assert re.search(r'^netns = "host"$', text, re.M)
        assert re.search(r'^runtime = "runc"$', text, re.M)
        assert re.search(r'^cgroup_manager = "cgroupfs"$', text, re.M)
        assert "nofile=20000:20000" in text and "nproc=4096:4096" in text
