"""The same Flask app the container serves, on Lambda through serverless-wsgi.

Deployed under its own path prefix (``/wsgi``): serverless-wsgi strips
``API_GATEWAY_BASE_PATH`` so the app sees ``/predict`` exactly as in the container.
Like the native handler, every response says whether this invocation was its environment's
first (``x-twinserve-cold``) and how long that environment's init took (``x-twinserve-init-ms``),
so the bench can verify forced cold starts on the deployed WSGI function too.
"""

from __future__ import annotations

import time

_INIT_STARTED = time.perf_counter()

from typing import Any  # noqa: E402  (the clock starts before the imports it measures)

import serverless_wsgi  # noqa: E402
from twinserve.headers import COLD_HEADER, INIT_HEADER  # noqa: E402
from twinserve_flask.fastpath import create_wsgi_app  # noqa: E402

# The same WSGI entry gunicorn serves: the Flask app behind the /predict fast path.
app = create_wsgi_app()
_INIT_HEADER_VALUE = f"{(time.perf_counter() - _INIT_STARTED) * 1000.0:.1f}"
_state = {"cold": True}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cold, _state["cold"] = _state["cold"], False
    response: dict[str, Any] = serverless_wsgi.handle_request(app, event, context)
    flag = "true" if cold else "false"
    # REST v1 events get multiValueHeaders back, HTTP API v2 and Function URLs plain headers.
    if "multiValueHeaders" in response:
        response["multiValueHeaders"][COLD_HEADER] = [flag]
        response["multiValueHeaders"][INIT_HEADER] = [_INIT_HEADER_VALUE]
    else:
        response.setdefault("headers", {})
        response["headers"][COLD_HEADER] = flag
        response["headers"][INIT_HEADER] = _INIT_HEADER_VALUE
    return response
