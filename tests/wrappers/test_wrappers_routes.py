"""Routes are declared once (twinserve.routes): the Flask app, the core's dispatcher and the OpenAPI
description all answer exactly that table, read from what each actually serves."""

from __future__ import annotations

import json

from twinserve.routes import ROUTES, V2_PREFIX


def test_flask_url_map_is_the_route_table(lambda_modules):
    _, wsgi = lambda_modules
    flask_app = wsgi.app.flask_app
    served = {rule.rule: set(rule.methods or ()) - {"HEAD", "OPTIONS"} for rule in flask_app.url_map.iter_rules()
              if rule.endpoint != "static"}
    own = {path: methods for path, methods in served.items() if not path.startswith(V2_PREFIX)}
    assert own == {route.path: set(route.methods) for route in ROUTES.values()}
    assert {V2_PREFIX, V2_PREFIX + "/<path:_rest>"} <= set(served)


def test_the_core_dispatches_every_route_and_refuses_other_methods(lambda_modules):
    native, _ = lambda_modules
    from twinserve_support.sample_events import event_for

    for route in ROUTES.values():
        for method in ("GET", "POST", "DELETE"):
            body = b'{"features": []}' if method == "POST" else None
            status = native.handler(event_for("http_api_v2.json", method, route.path, body), None)["statusCode"]
            if method in route.methods:
                assert status in (200, 422), (method, route.path, status)
            else:
                assert status == 405, (method, route.path, status)


def test_openapi_describes_exactly_the_route_table_and_v2(callers):
    document = json.loads(callers["gunicorn"]("GET", "/openapi.json", b"", None).body)
    own = {path: {m.upper() for m in item} for path, item in document["paths"].items()
           if not path.startswith(V2_PREFIX)}
    assert own == {route.path: set(route.methods) for route in ROUTES.values()}
