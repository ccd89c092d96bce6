"""The Flask wrapper of the twinserve core: served by gunicorn in the container and by
serverless-wsgi on Lambda, from the same application factory."""

from twinserve_flask.factory import create_app

__all__ = ["create_app"]
