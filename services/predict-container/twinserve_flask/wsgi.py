"""The WSGI entry gunicorn serves: ``twinserve_flask.wsgi:app``.

Building the app here loads the model; with ``preload_app`` gunicorn does it once in the
master before forking, and a model that fails its integrity check stops the master. The
container's access log and metrics, and the reading of a refused body's rest (sync workers
close after each answer), wrap the app here only (``gunicorn.conf.py`` switches the first two
on); the Lambda WSGI handler serves :func:`create_wsgi_app` without them. ``service`` is what the
master asks before it tells the side listener the pod is ready.
"""

from twinserve.service import Service
from twinserve.settings import Settings

from twinserve_flask.fastpath import create_wsgi_app
from twinserve_flask.observability import observe
from twinserve_flask.unread_body import read_unread_body

service = Service.start(Settings.from_env())
app = observe(read_unread_body(create_wsgi_app(service), service.predictor.spec.max_body_bytes), service)
