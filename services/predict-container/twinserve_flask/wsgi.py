"""The WSGI entry gunicorn serves: ``twinserve_flask.wsgi:app``.

Building the app here loads the model; with ``preload_app`` gunicorn does it once in the
master before forking, and a model that fails its integrity check stops the master.
"""

from twinserve_flask.fastpath import create_wsgi_app

app = create_wsgi_app()
