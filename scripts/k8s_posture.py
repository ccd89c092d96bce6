"""Who can reach the predictor: checks of a rendered overlay that no schema or policy scanner makes.

Each check returns one line per problem (empty = fine), naming the object and what is open:

  network_policy   every ingress rule names its sources (`from`) and its ports; no source is
                   "everything" (an empty namespaceSelector, a /0 CIDR); the metrics port is
                   admitted from namespaces only, never from addresses (the load balancer's).
  ingress_paths    no Ingress path reaches the metrics port, or could match /metrics on any port.
  ingress_tls      every Ingress has an HTTPS listener with a certificate, and plain HTTP only
                   redirects (AWS Load Balancer Controller annotations; `spec.tls` otherwise).
  service_monitor  every ServiceMonitor scrapes the metrics port.
  named_ports      every port a Service or NetworkPolicy names is a container port of the Deployment.

Ports are followed by name as Kubernetes does: Ingress backend -> Service port -> targetPort ->
the Deployment's container port. The container ports are `http` (serving) and `metrics`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

SERVING_PORT = "http"
METRICS_PORT = "metrics"
METRICS_PATH = "/metrics"
ALB = "alb.ingress.kubernetes.io/"
_ACM_ARN = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+")

Objects = list[dict[str, Any]]


def _of_kind(objects: Objects, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


def _name(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def container_ports(objects: Objects) -> dict[str, int]:
    """Name -> number of every named container port of every Deployment."""
    return {p["name"]: p["containerPort"] for d in _of_kind(objects, "Deployment")
            for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", []) if "name" in p}


def _container_port(objects: Objects, port: int | str) -> int | None:
    """A port as a container port number (a name resolved); None when the name is not declared."""
    return port if isinstance(port, int) else container_ports(objects).get(port)


def _service_port(service: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any] | None:
    """The Service port an Ingress backend's `port` ({name} or {number}) refers to."""
    for port in service["spec"].get("ports", []):
        if ("name" in ref and port.get("name") == ref["name"]) or ("number" in ref and port["port"] == ref["number"]):
            return port
    return None


def network_policy(objects: Objects) -> list[str]:
    problems = []
    metrics = _container_port(objects, METRICS_PORT)
    for policy in _of_kind(objects, "NetworkPolicy"):
        for i, rule in enumerate(policy["spec"].get("ingress") or []):
            where = f"{_name(policy)}: ingress rule {i}"
            peers = rule.get("from") or []
            if not peers:
                problems.append(f"{where} has no `from`: every pod and every routable address may connect")
            if not rule.get("ports"):
                problems.append(f"{where} names no ports: it opens every port of the pod")
            for peer in peers:
                if peer.get("namespaceSelector") == {} and not peer.get("podSelector"):
                    problems.append(f"{where} admits every namespace (empty namespaceSelector)")
                cidr = (peer.get("ipBlock") or {}).get("cidr", "")
                if cidr.endswith("/0"):
                    problems.append(f"{where} admits every address ({cidr})")
            ports = {_container_port(objects, p.get("port")) for p in rule.get("ports") or []}
            if metrics is not None and metrics in ports and any("ipBlock" in p for p in peers):
                problems.append(f"{where} admits addresses (ipBlock) on the metrics port; only namespaces may scrape it")
    return problems


def _may_match(path: str, path_type: str, target: str) -> bool:
    """Whether an Ingress path could route ``target`` (an ALB's `*` wildcards included)."""
    if path_type == "Exact":
        return path == target
    if path_type == "Prefix":
        prefix = path.rstrip("/")
        return target == prefix or target.startswith(prefix + "/")
    return fnmatch.fnmatchcase(target, path) or fnmatch.fnmatchcase(target, path.rstrip("/") + "*")


def _backends(ingress: dict[str, Any]):
    """(label, path, pathType, service backend) of every path and of the default backend."""
    default = ingress["spec"].get("defaultBackend")
    if default:
        yield "defaultBackend", "/", "Prefix", default.get("service")
    for rule in ingress["spec"].get("rules") or []:
        for entry in (rule.get("http") or {}).get("paths") or []:
            label = f"path {rule.get('host', '*')}{entry.get('path', '/')}"
            yield label, entry.get("path", "/"), entry.get("pathType", "Prefix"), entry["backend"].get("service")


def ingress_paths(objects: Objects) -> list[str]:
    problems = []
    services = {s["metadata"]["name"]: s for s in _of_kind(objects, "Service")}
    metrics = _container_port(objects, METRICS_PORT)
    for ingress in _of_kind(objects, "Ingress"):
        for label, path, path_type, backend in _backends(ingress):
            where = f"{_name(ingress)}: {label}"
            if _may_match(path, path_type, METRICS_PATH):
                problems.append(f"{where} ({path_type}) routes {METRICS_PATH}")
            service = services.get((backend or {}).get("name"))
            port = _service_port(service, backend.get("port", {})) if service else None
            if port is None:
                problems.append(f"{where} names no port of a Service in the manifests ({backend})")
                continue
            target = _container_port(objects, port.get("targetPort", port["port"]))
            if target is None or target == metrics:
                problems.append(f"{where} reaches container port {port.get('targetPort')!r}, not the serving port")
    return problems


def _listeners(annotations: dict[str, str]) -> list[tuple[str, int]]:
    text = annotations.get(ALB + "listen-ports", '[{"HTTP": 80}]')  # the controller's default
    try:
        return [(proto, int(port)) for item in json.loads(text) for proto, port in item.items()]
    except (ValueError, AttributeError, TypeError):
        return []


def ingress_tls(objects: Objects) -> list[str]:
    problems = []
    for ingress in _of_kind(objects, "Ingress"):
        where = _name(ingress)
        if ingress["spec"].get("ingressClassName") != "alb":
            if not ingress["spec"].get("tls"):
                problems.append(f"{where}: no spec.tls: the Ingress serves plain HTTP only")
            continue
        annotations = ingress["metadata"].get("annotations") or {}
        listeners = _listeners(annotations)
        https = [port for proto, port in listeners if proto == "HTTPS"]
        if not https:
            problems.append(f"{where}: no HTTPS listener (listen-ports {[f'{p}:{n}' for p, n in listeners]})")
        if not _ACM_ARN.fullmatch(annotations.get(ALB + "certificate-arn", "").split(",")[0].strip()):
            problems.append(f"{where}: no ACM certificate ARN (annotation {ALB}certificate-arn)")
        plain = [port for proto, port in listeners if proto == "HTTP"]
        redirect = annotations.get(ALB + "ssl-redirect", "")
        if plain and not (redirect.isdigit() and int(redirect) in https):
            problems.append(f"{where}: HTTP listener {plain} serves instead of redirecting to HTTPS (ssl-redirect)")
    return problems


def service_monitor(objects: Objects) -> list[str]:
    problems = []
    services = _of_kind(objects, "Service")
    metrics = _container_port(objects, METRICS_PORT)
    for monitor in _of_kind(objects, "ServiceMonitor"):
        for endpoint in monitor["spec"].get("endpoints", []):
            ports = [p for s in services for p in s["spec"].get("ports", []) if p.get("name") == endpoint.get("port")]
            targets = {_container_port(objects, p.get("targetPort", p["port"])) for p in ports}
            if metrics is None or targets != {metrics}:
                problems.append(f"{_name(monitor)}: scrapes Service port {endpoint.get('port')!r}, "
                                f"not the one targeting container port {METRICS_PORT!r}")
    return problems


def named_ports(objects: Objects) -> list[str]:
    """A Service or NetworkPolicy port named after a container port the Deployment lacks routes nothing."""
    declared = container_ports(objects)
    named = [(_name(s), p.get("targetPort")) for s in _of_kind(objects, "Service") for p in s["spec"].get("ports", [])]
    named += [(_name(n), p.get("port")) for n in _of_kind(objects, "NetworkPolicy")
              for rule in n["spec"].get("ingress") or [] for p in rule.get("ports") or []]
    return [f"{owner}: port {port!r} is no container port of the Deployment ({sorted(declared)})"
            for owner, port in named if isinstance(port, str) and port not in declared]


CHECKS = {"named_ports": named_ports, "network_policy": network_policy, "ingress_paths": ingress_paths, "ingress_tls": ingress_tls,
          "service_monitor": service_monitor}


def problems(objects: Objects) -> list[str]:
    """Every check's problems, in CHECKS order."""
    return [p for check in CHECKS.values() for p in check(objects)]
