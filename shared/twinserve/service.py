"""The HTTP surface of twinserve without a web framework: routes, statuses, bodies.

The native Lambda handler dispatches through :meth:`Service.dispatch`; the Flask app maps
its routes and error handlers onto the same methods. Both therefore answer identically.
"""

from __future__ import annotations

import logging

from twinserve.contract import check_content_type
from twinserve.errors import ClientError, InternalError, MethodNotAllowed, RouteNotFound
from twinserve.model_store import load_model
from twinserve.openapi import build_openapi
from twinserve.predictor import Predictor
from twinserve.responses import Reply, error_reply, json_bytes
from twinserve.routes import PREDICT, ROUTES, is_v2_path
from twinserve.settings import Settings
from twinserve.v2 import OpenInferenceV2

log = logging.getLogger("twinserve")


_HEALTH_BODY = json_bytes({"status": "ok"})


class Service:
    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        metadata = predictor.model.metadata
        self.ready_body = json_bytes({"status": "ready", "model": predictor.model.describe()})
        self.v2 = OpenInferenceV2(predictor)
        self.openapi_body = json_bytes(build_openapi(metadata, predictor.spec.max_rows, predictor.spec.float32_range,
                                                     self.v2, predictor.model.samples))

    @classmethod
    def start(cls, settings: Settings | None = None) -> Service:
        """Load + verify the model and prove it answers. Raises ModelError: the service must not start."""
        settings = settings or Settings.from_env()
        predictor = Predictor(load_model(settings), settings)
        predictor.self_test()
        return cls(predictor)

    def predict(self, content_type: str | None, body: bytes) -> Reply:
        try:
            check_content_type(content_type)
            return Reply(200, self.predictor.predict_body(body))
        except ClientError as exc:
            return error_reply(exc)
        except Exception:  # a fault of ours: log it, never leak it
            log.exception("prediction failed")
            return error_reply(InternalError("prediction failed; see the service log"))

    def health(self) -> Reply:
        return Reply(200, _HEALTH_BODY)

    def ready(self) -> Reply:
        return Reply(200, self.ready_body)

    def openapi(self) -> Reply:
        return Reply(200, self.openapi_body)

    def v2_dispatch(self, method: str, path: str, content_type: str | None, body: bytes) -> Reply:
        """One Open Inference Protocol V2 request (``/v2...``); errors in the V2 shape."""
        try:
            return self.v2.dispatch(method, path, content_type, body)
        except ClientError as exc:
            return error_reply(exc, path)
        except Exception:  # a fault of ours: log it, never leak it
            log.exception("V2 request failed")
            return error_reply(InternalError("inference failed; see the service log"), path)

    def dispatch(self, method: str, path: str, content_type: str | None, body: bytes) -> Reply:
        """Route one request. Used by wrappers that have no router of their own."""
        if is_v2_path(path):
            return self.v2_dispatch(method, path, content_type, body)
        route = ROUTES.get(path)
        if route is None:
            return error_reply(RouteNotFound(method, path))
        if method not in route.methods:
            return error_reply(MethodNotAllowed(method, path, route.methods))
        if route is PREDICT:
            return self.predict(content_type, body)
        answer: Reply = getattr(self, route.operation)()
        return answer

