"""Every route of the API, declared once: the core dispatches by it, the Flask app registers its
views from it, the fast path and ``/openapi.json`` read their paths from it, and metrics and logs
label requests with its bounded templates.

A metric labelled with raw paths grows a series per path a scanner tries; the template
(``/v2/models/{name}/infer``) keeps the label set fixed whatever clients send.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """One of twinserve's own routes: its path, methods, and the Service method that answers it."""

    path: str
    methods: tuple[str, ...]
    operation: str


PREDICT = Route("/predict", ("POST",), "predict")
HEALTH = Route("/health", ("GET",), "health")
READY = Route("/ready", ("GET",), "ready")
OPENAPI = Route("/openapi.json", ("GET",), "openapi")
ROUTES: dict[str, Route] = {route.path: route for route in (PREDICT, HEALTH, READY, OPENAPI)}

V2_PREFIX = "/v2"  # the Open Inference Protocol's routes, dispatched by twinserve.v2
V2_FIXED = ("/v2", "/v2/health/live", "/v2/health/ready")
V2_MODEL = "/v2/models/{name}"
V2_TEMPLATES = (*V2_FIXED, V2_MODEL, V2_MODEL + "/ready", V2_MODEL + "/infer")
METRICS_PATH = "/metrics"  # the container's Prometheus endpoint (on its own port)
_KNOWN = frozenset(ROUTES) | {METRICS_PATH, *V2_FIXED}


def allowed_methods(path: str) -> tuple[str, ...]:
    """The methods ``path`` answers; empty when it is not one of twinserve's own routes."""
    route = ROUTES.get(path)
    return route.methods if route else ()


def is_v2_path(path: str) -> bool:
    """Whether ``path`` belongs to the Open Inference Protocol V2 surface (its own error shape)."""
    return path == V2_PREFIX or path.startswith(V2_PREFIX + "/")


def route_of(path: str) -> str:
    """The route template of ``path``; ``unmatched`` for anything that is not a route."""
    if path in _KNOWN:
        return path
    if path.startswith("/v2/models/"):
        parts = path.split("/")[3:]  # name, [versions, v], [ready|infer]
        if len(parts) >= 3 and parts[1] == "versions":
            parts = [parts[0], *parts[3:]]
        if len(parts) == 1:
            return V2_MODEL
        if len(parts) == 2 and parts[1] in ("ready", "infer"):
            return V2_MODEL + "/" + parts[1]
    return "unmatched"
