"""The same Flask app the container serves, on Lambda through serverless-wsgi.

Deployed under its own path prefix (``/wsgi``): serverless-wsgi strips
``API_GATEWAY_BASE_PATH`` so the app sees ``/predict`` exactly as in the container.
"""

from __future__ import annotations

from typing import Any

import serverless_wsgi
from twinserve_flask.factory import create_app

app = create_app()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return serverless_wsgi.handle_request(app, event, context)
