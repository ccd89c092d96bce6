"""Route templates: the bounded name of a request's route, for metrics and logs on every wrapper.

A metric labelled with raw paths grows a series per path a scanner tries; the template
(``/v2/models/{name}/infer``) keeps the label set fixed whatever clients send.
"""

from __future__ import annotations

from twinserve.service import ROUTES

METRICS_PATH = "/metrics"  # the container's Prometheus endpoint
_KNOWN = frozenset(ROUTES) | {METRICS_PATH, "/v2", "/v2/health/live", "/v2/health/ready"}


def route_of(path: str) -> str:
    """The route template of ``path``; ``unmatched`` for anything that is not a route."""
    if path in _KNOWN:
        return path
    if path.startswith("/v2/models/"):
        parts = path.split("/")[3:]  # name, [versions, v], [ready|infer]
        if len(parts) >= 3 and parts[1] == "versions":
            parts = [parts[0], *parts[3:]]
        if len(parts) == 1:
            return "/v2/models/{name}"
        if len(parts) == 2 and parts[1] in ("ready", "infer"):
            return "/v2/models/{name}/" + parts[1]
    return "unmatched"
