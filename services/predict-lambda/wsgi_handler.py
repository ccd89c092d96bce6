"""The same Flask app the container serves, on Lambda through serverless-wsgi.

Deployed under its own path prefix (``/wsgi``): serverless-wsgi strips
``API_GATEWAY_BASE_PATH`` so the app sees ``/predict`` exactly as in the container.
"""

from __future__ import annotations

from typing import Any

import serverless_wsgi
from twinserve_flask.fastpath import create_wsgi_app

# The same WSGI entry gunicorn serves: the Flask app behind the /predict fast path.
app = create_wsgi_app()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return serverless_wsgi.handle_request(app, event, context)
