"""Invariants of the rendered k8s/ overlays that no schema or policy checker can see.

Each overlay is rendered with the pinned `kubectl kustomize`, then compared with the
app's own files: the port, probe paths, UID and graceful timeout are read from
services/predict-container/ (Dockerfile, gunicorn.conf.py, the Flask package), so a
change on either side that breaks the other fails here.

Tools: kubectl from .venv-tools (`make setup-tools`). Without it these tests skip,
unless TWINSERVE_K8S_STRICT=1 (set by `make k8s-check`), where they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import k8s_validate
import pytest
import yaml
from twinserve_support.paths import REPO  # noqa: E402

K8S = REPO / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
CONTAINER_DIR = REPO / "services" / "predict-container"
DOCKERFILE = CONTAINER_DIR / "Dockerfile"
GUNICORN_CONF = CONTAINER_DIR / "gunicorn.conf.py"
FLASK_PACKAGE = CONTAINER_DIR / "twinserve_flask"

# The probes go to the side listener on the container port `metrics` (twinserve_flask/observability.py),
# so a flood on the serving port never fails them; the serving port keeps the core's /ready and
# /health (the ALB's health check uses /ready there).
READINESS_PATH = "/readyz"
LIVENESS_PATH = "/livez"
SERVING_READY_PATH = "/ready"
GUNICORN_DEFAULT_GRACEFUL_TIMEOUT_S = 30  # gunicorn's own default, if the conf sets none


def tool(name: str) -> str:
    """Absolute path of a pinned checker; skip (or fail in strict mode) if missing."""
    candidates = [Path(os.environ["TOOLS_BIN"]) / name] if os.environ.get("TOOLS_BIN") else []
    candidates.append(REPO / ".venv-tools" / "bin" / name)
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not found: run `make setup-tools` (pinned in requirements/tools.txt)"
    if os.environ.get("TWINSERVE_K8S_STRICT") == "1":
        pytest.fail(message)
    pytest.skip(message)


def require_file(path: Path) -> Path:
    """The app file the invariant reads; a missing one fails the invariant (it cannot hold)."""
    if not path.exists():
        pytest.fail(f"{path.relative_to(REPO)} is missing: this invariant reads it")
    return path


def render(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run([tool("kubectl"), "kustomize", str(path)], check=True, capture_output=True, text=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Overlay name -> rendered objects."""
    return {name: render(K8S / "overlays" / name) for name in OVERLAYS}


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


def pod_spec(objects) -> dict[str, Any]:
    return one(objects, "Deployment")["spec"]["template"]["spec"]


def container(objects) -> dict[str, Any]:
    (c,) = [c for c in pod_spec(objects)["containers"] if c["name"] == k8s_validate.CONTAINER_NAME]
    return c


def container_env(objects) -> dict[str, str]:
    """The environment the container process sees: envFrom ConfigMaps, then env."""
    env: dict[str, str] = {}
    configmaps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    c = container(objects)
    for source in c.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    env.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
    return env


def named_port(objects, name: str) -> int:
    (port,) = [p["containerPort"] for p in container(objects)["ports"] if p["name"] == name]
    return port


def http_port(objects) -> int:
    return named_port(objects, "http")


def resolve_port(objects, port: int | str) -> int:
    """A Service/NetworkPolicy/probe port (number or container port name) as a number."""
    if isinstance(port, int):
        return port
    names = {p["name"]: p["containerPort"] for p in container(objects)["ports"]}
    assert port in names, f"port name {port!r} is not a container port ({sorted(names)})"
    return names[port]


def prestop_seconds(objects) -> int:
    pre_stop = container(objects)["lifecycle"]["preStop"]
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"]["seconds"])
    command = " ".join(pre_stop["exec"]["command"])
    match = re.search(r"sleep\s+(\d+)", command)
    assert match, f"cannot read the preStop pause from {command!r}"
    return int(match.group(1))


def is_subset(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --------------------------------------------------------------------------- the tree
def test_default_kustomization_renders_the_dev_overlay(rendered):
    assert render(K8S) == rendered["dev"], "`kubectl apply -k k8s/` must deploy overlays/dev"


def test_overlays_exist():
    assert {"dev", "prod"} <= set(OVERLAYS)


def test_no_deprecated_kustomize_fields():
    for path in K8S.rglob("kustomization.yaml"):
        doc = yaml.safe_load(path.read_text())
        for field in ("commonLabels", "bases", "patchesStrategicMerge", "patchesJson6902", "vars"):
            assert field not in doc, f"{path.relative_to(REPO)} uses deprecated `{field}`"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_expected_objects_in_one_restricted_namespace(rendered, overlay):
    objects = rendered[overlay]
    kinds = sorted(o["kind"] for o in objects)
    # prod adds an Ingress for the AWS Load Balancer Controller.
    extra = {"prod": ["Ingress"], "monitoring": ["Ingress", "ServiceMonitor"]}.get(overlay, [])
    assert kinds == sorted(["Namespace", "ServiceAccount", "ConfigMap", "Deployment", "Service",
                            "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", *extra])
    namespace = one(objects, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace["metadata"]["name"], obj["kind"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_image_set_by_the_images_transformer(rendered, overlay):
    image = container(rendered[overlay])["image"]
    assert re.fullmatch(r"([a-z0-9.:-]+/)+twinserve-predict(:[\w.-]+|@sha256:[0-9a-f]{64})", image), image
    # Each overlay owns its image (`make k8s-image` writes it), replacing the base's placeholder.
    assert any(i["name"] == "twinserve-predict" for i in yaml.safe_load(
        (K8S / "overlays" / overlay / "kustomization.yaml").read_text())["images"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_configmap_reference_resolves_to_the_generated_name(rendered, overlay):
    objects = rendered[overlay]
    (generated,) = [o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"]
    assert re.fullmatch(r"twinserve-predict-config-[a-z0-9]{10}", generated), "no content hash: pods won't roll"
    refs = [s["configMapRef"]["name"] for s in container(objects)["envFrom"]]
    assert refs == [generated]
    # gunicorn's default worker count follows the node's cores, not the pod's limit.
    assert int(container_env(objects)["WEB_CONCURRENCY"]) >= 1


# ---------------------------------------------------------------- labels and selectors
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_selector_matches_the_pod_labels(rendered, overlay):
    objects = rendered[overlay]
    deployment = one(objects, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = {
        "Deployment": deployment["spec"]["selector"]["matchLabels"],
        "Service": one(objects, "Service")["spec"]["selector"],
        "PodDisruptionBudget": one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        "NetworkPolicy": one(objects, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
    }
    for i, constraint in enumerate(deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]):
        selectors[f"topologySpreadConstraints[{i}]"] = constraint["labelSelector"]["matchLabels"]
    for owner, selector in selectors.items():
        assert selector, f"{owner} has an empty selector (it would select every pod)"
        assert is_subset(selector, pod_labels), f"{owner} selector {selector} misses pod labels {pod_labels}"
    # Selectors are immutable on a Deployment: they must not carry labels that an
    # overlay or a version bump might change.
    assert set(selectors["Deployment"]) == {"app.kubernetes.io/name", "app.kubernetes.io/component"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_spread_across_nodes(rendered, overlay):
    constraints = pod_spec(rendered[overlay])["topologySpreadConstraints"]
    by_key = {c["topologyKey"]: c for c in constraints}
    assert "kubernetes.io/hostname" in by_key
    for c in constraints:
        assert c["maxSkew"] == 1
        assert "pod-template-hash" in c.get("matchLabelKeys", []), "a rollout must spread the new pods too"


# ------------------------------------------------------------------ ports and probes
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_networkpolicy_probes_and_env_agree_on_the_ports(rendered, overlay):
    """Serving on `http`, metrics and probes on `metrics`: the Service, the NetworkPolicy, the
    probes and the server's environment name the same two container ports."""
    objects = rendered[overlay]
    port = http_port(objects)
    metrics = named_port(objects, "metrics")
    assert port != metrics
    env = container_env(objects)
    assert env["PORT"] == str(port)
    assert env["HOST"] == "0.0.0.0", "gunicorn must listen on all interfaces inside the pod"
    if "METRICS_PORT" in env:
        assert env["METRICS_PORT"] == str(metrics)
    service_ports = {p["name"]: resolve_port(objects, p["targetPort"]) for p in one(objects, "Service")["spec"]["ports"]}
    assert service_ports == {"http": port, "metrics": metrics}
    rules = one(objects, "NetworkPolicy")["spec"]["ingress"]
    assert [[resolve_port(objects, p["port"]) for p in rule["ports"]] for rule in rules] == [[port], [metrics]]
    c = container(objects)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert resolve_port(objects, c[probe]["httpGet"]["port"]) == metrics, probe
    assert c["readinessProbe"]["httpGet"]["path"] == READINESS_PATH
    assert c["livenessProbe"]["httpGet"]["path"] == LIVENESS_PATH
    # A failing readiness check must never restart the pod: liveness is not the readiness path.
    assert c["startupProbe"]["httpGet"]["path"] == LIVENESS_PATH


def test_probe_paths_are_routes_of_the_flask_app():
    sources = sorted(require_file(FLASK_PACKAGE).glob("*.py"))
    assert sources, "services/predict-container/twinserve_flask has no modules"
    text = "\n".join(p.read_text() for p in sources)
    for path in (READINESS_PATH, LIVENESS_PATH):
        assert re.search(rf"""["']{re.escape(path)}["']""", text), f"no route {path} in twinserve_flask"


# ------------------------------------------------------------ gunicorn and shutdown
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grace_period_exceeds_prestop_plus_graceful_timeout(rendered, overlay):
    objects = rendered[overlay]
    graceful_s = int(container_env(objects)["GUNICORN_GRACEFUL_TIMEOUT"])
    grace_s = pod_spec(objects)["terminationGracePeriodSeconds"]
    assert prestop_seconds(objects) >= 3, "endpoints need a few seconds to drop the pod"
    assert grace_s > prestop_seconds(objects) + graceful_s


def gunicorn_settings(env: dict[str, str]) -> dict[str, Any]:
    """Execute gunicorn.conf.py (a Python file) with the pod's environment and return
    the settings it defines, as gunicorn itself would read them."""
    code = ("import json, runpy, sys; ns = runpy.run_path(sys.argv[1]); "
            "print(json.dumps({k: v for k, v in ns.items() if not k.startswith('_') "
            "and isinstance(v, (str, int, float, bool, list, type(None)))}))")
    base = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "HOME", "LANG") if k in os.environ}
    out = subprocess.run([sys.executable, "-c", code, str(GUNICORN_CONF)], env={**base, **env},
                         cwd=CONTAINER_DIR, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gunicorn_conf_in_the_pod_environment(rendered, overlay):
    require_file(GUNICORN_CONF)
    objects = rendered[overlay]
    env = container_env(objects)
    settings = gunicorn_settings(env)
    assert public_listener(settings) == f"0.0.0.0:{http_port(objects)}"
    graceful_s = settings.get("graceful_timeout", GUNICORN_DEFAULT_GRACEFUL_TIMEOUT_S)
    assert graceful_s == int(env["GUNICORN_GRACEFUL_TIMEOUT"]), "gunicorn ignores the ConfigMap's value"
    assert pod_spec(objects)["terminationGracePeriodSeconds"] > prestop_seconds(objects) + graceful_s
    if "workers" in settings:
        assert settings["workers"] == int(env["WEB_CONCURRENCY"])
    # Slow clients must not hold a worker: nginx in front reads each request in full before a
    # worker sees it (or, without the proxy, an async worker gives each connection a greenlet).
    assert settings.get("PROXY") == "nginx" or settings["worker_class"] == "gevent", \
        f"proxy {settings.get('PROXY')!r}, worker {settings['worker_class']!r}"


def public_listener(settings: dict[str, Any]) -> str:
    """host:port the pod's clients reach: nginx's (PUBLIC_HOST, PUBLIC_PORT) when it fronts
    gunicorn (which then binds a unix socket), else gunicorn's own bind."""
    if settings.get("PROXY") == "nginx":
        return f"{settings['PUBLIC_HOST']}:{settings['PUBLIC_PORT']}"
    bind = settings.get("bind", "127.0.0.1:8000")
    binds = [bind] if isinstance(bind, str) else bind
    return next((b for b in binds if not b.startswith("unix:")), binds[0])


# ------------------------------------------------------------------------ Dockerfile
def dockerfile_final_stage() -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(instruction, argument) pairs of the last stage, and its ARG/ENV defaults."""
    text = re.sub(r"\\\n", " ", require_file(DOCKERFILE).read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            instructions.append((word.upper(), rest.strip()))
    start = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    variables = {}
    for word, rest in instructions:
        if word in ("ARG", "ENV"):
            for key, value in re.findall(r"""(\w+)=("[^"]*"|'[^']*'|\S+)""", rest):
                variables[key] = value.strip("\"'")
    return instructions[start:], variables


def expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)(?::-[^}]*)?\}?", lambda m: variables.get(m.group(1), m.group(0)), value)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_dockerfile_user_port_and_healthcheck_agree(rendered, overlay):
    stage, variables = dockerfile_final_stage()
    objects = rendered[overlay]
    users = [expand(rest, variables) for word, rest in stage if word == "USER"]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    if not user.isdigit():  # a name: find the UID it was created with
        created = re.search(r"(?:-u|--uid)[ =](\d+)[^&;]*\b" + re.escape(user) + r"\b",
                            expand(" ".join(r for _, r in stage), variables))
        assert created, f"cannot find the UID of user {user!r} in the Dockerfile"
        user = created.group(1)
    security = pod_spec(objects)["securityContext"]
    assert int(user) == security["runAsUser"] == container(objects)["securityContext"]["runAsUser"]
    exposed = {int(p.split("/")[0]) for word, rest in stage if word == "EXPOSE"
               for p in expand(rest, variables).split()}
    assert http_port(objects) in exposed, f"Dockerfile EXPOSE {sorted(exposed)}"
    if "PORT" in variables:
        assert variables["PORT"] == str(http_port(objects))
    healthchecks = [expand(rest, variables) for word, rest in stage if word == "HEALTHCHECK"]
    assert healthchecks and any(p in healthchecks[-1] for p in (LIVENESS_PATH, "/health")), \
        "HEALTHCHECK must probe a liveness path"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_dockerfile_env_defaults_agree_with_the_pod_env(rendered, overlay):
    """The image's ENV defaults (used by podman runs and the local bench) and the pod's
    env must not drift apart for any variable both set."""
    _, variables = dockerfile_final_stage()
    env = container_env(rendered[overlay])
    shared = sorted(set(variables) & set(env))
    assert {k: variables[k] for k in shared} == {k: env[k] for k in shared}


# -------------------------------------------------------------------------- security
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_meets_the_restricted_profile(rendered, overlay):
    spec = pod_spec(rendered[overlay])
    pod_sc = spec["securityContext"]
    c = container(rendered[overlay])
    sc = c["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and sc["runAsNonRoot"] is True
    assert pod_sc["runAsUser"] >= 10000 and sc["runAsUser"] >= 10000
    assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    assert sc["readOnlyRootFilesystem"] is True
    assert spec["automountServiceAccountToken"] is False
    assert one(rendered[overlay], "ServiceAccount")["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == one(rendered[overlay], "ServiceAccount")["metadata"]["name"]
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(field)
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert set(mounts) == {"/tmp"}, "only /tmp is writable"
    assert "emptyDir" in volumes[mounts["/tmp"]]


# --------------------------------------------------------------- scaling and capacity
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hpa_owns_the_replica_count(rendered, overlay):
    objects = rendered[overlay]
    hpa = one(objects, "HorizontalPodAutoscaler")
    deployment = one(objects, "Deployment")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": deployment["apiVersion"], "kind": "Deployment", "name": deployment["metadata"]["name"]}
    assert {"scaleUp", "scaleDown"} <= set(hpa["spec"]["behavior"])
    assert "replicas" not in deployment["spec"], "every `kubectl apply` would reset the HPA's count"
    cpu_metrics = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
    assert cpu_metrics and "cpu" in container(objects)["resources"]["requests"], "utilisation needs a request"


def test_prod_runs_at_least_three_replicas_on_distinct_nodes(rendered):
    objects = rendered["prod"]
    assert one(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"] >= 3
    by_key = {c["topologyKey"]: c for c in pod_spec(objects)["topologySpreadConstraints"]}
    assert by_key["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruptions_and_rollouts_leave_room(rendered, overlay):
    """A drain can always evict one pod (even at the HPA minimum), and a rollout adds
    a pod before it removes one, so capacity never drops below the current count."""
    objects = rendered[overlay]
    pdb = one(objects, "PodDisruptionBudget")["spec"]
    min_replicas = one(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"]
    if "maxUnavailable" in pdb:
        assert pdb["maxUnavailable"] not in (0, "0%")
    else:
        assert isinstance(pdb["minAvailable"], int) and pdb["minAvailable"] < min_replicas
    rolling = one(objects, "Deployment")["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0 and rolling["maxSurge"] not in (0, "0%")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_guaranteed_qos_with_the_same_limits_everywhere(rendered, overlay):
    """requests == limits, identical across overlays: the container bench applies the
    same numbers (k8s_validate.py limits) so results carry over."""
    resources = container(rendered[overlay])["resources"]
    assert resources["requests"] == resources["limits"]
    reference = container(rendered["dev"])["resources"]["limits"]
    assert resources["limits"] == reference
    limits = k8s_validate.predictor_limits(rendered[overlay])
    assert limits.cpu_cores == k8s_validate.parse_quantity(reference["cpu"])
    assert limits.memory_bytes == int(k8s_validate.parse_quantity(reference["memory"]))
    tmp = next(v for v in pod_spec(rendered[overlay])["volumes"] if v["name"] == "tmp")["emptyDir"]
    if tmp.get("medium") == "Memory":  # tmpfs counts against the memory limit
        assert k8s_validate.parse_quantity(tmp["sizeLimit"]) < limits.memory_bytes / 4


def test_keep_alive_outlasts_the_load_balancers_idle_timeout(rendered):
    """The ALB, not gunicorn, must close an idle connection (AWS's advice): a server that closes
    first races the ALB's next request on that connection, which then fails with a 502."""
    require_file(GUNICORN_CONF)
    objects = rendered["prod"]
    attributes = one(objects, "Ingress")["metadata"]["annotations"]["alb.ingress.kubernetes.io/load-balancer-attributes"]
    idle = re.search(r"idle_timeout\.timeout_seconds=(\d+)", attributes)
    assert idle, f"no idle timeout in {attributes!r}"
    settings = gunicorn_settings(container_env(objects))
    # The client-facing keep-alive: nginx's when it fronts gunicorn, else gunicorn's.
    assert settings.get("KEEPALIVE_S", settings["keepalive"]) > int(idle.group(1))
