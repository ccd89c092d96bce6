"""Every failure the core can report, as types.

Each client-facing error fixes its HTTP status and a stable machine-readable ``code``; the
wrappers render them in exactly one place (:func:`twinserve.responses.error_body`). Model
errors are not client errors: they stop a service from starting.
"""

from __future__ import annotations

# A value a client sent is echoed in an error message at most this long: an error answer stays
# small whatever the request (a 1 MiB string must not come back as a 1 MiB message).
ECHO_LIMIT_CHARS = 100


# Characters a client's value must not carry into a message: C0 and C1 controls, DEL and the
# Unicode line and paragraph separators. A message is one line in a log or a terminal, and an
# escape sequence sent in a path must not reach an operator's terminal as one.
_UNPRINTABLE = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))} | {0x2028: "\\u2028", 0x2029: "\\u2029"}


def clip(text: str, limit: int = ECHO_LIMIT_CHARS) -> str:
    """``text`` with control characters escaped (``\\x0a``), cut to ``limit`` characters with an
    ellipsis when it was longer."""
    text = text[: limit + 1].translate(_UNPRINTABLE)  # escaping only lengthens: limit + 1 decide the ellipsis
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TwinserveError(Exception):
    """Base of every error the core raises on purpose."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class InternalError(TwinserveError):
    """An unexpected fault on our side; the message never carries a stack trace."""

    status = 500
    code = "internal_error"


class ClientError(TwinserveError):
    """Something the client sent is wrong; always a 4xx."""

    status = 400
    code = "bad_request"


class MalformedJSON(ClientError):
    status = 400
    code = "malformed_json"


class MalformedBody(ClientError):
    """Body that cannot even be decoded (bad base64, not UTF-8)."""

    status = 400
    code = "malformed_body"


class InvalidShape(ClientError):
    """Valid JSON of the wrong structure: missing key, wrong nesting, wrong row length, empty."""

    status = 422
    code = "invalid_shape"


class InvalidValue(ClientError):
    """A feature value that is not a finite number (string, bool, null, NaN, ±inf, overflow)."""

    status = 422
    code = "invalid_value"


class UnknownFeature(ClientError):
    status = 422
    code = "unknown_feature"


class PayloadTooLarge(ClientError):
    status = 413
    code = "payload_too_large"


class RequestTimeout(ClientError):
    """The client did not finish sending its request in time (a slow or stalled connection)."""

    status = 408
    code = "request_timeout"


class TooManyRows(ClientError):
    status = 413
    code = "too_many_rows"


class UnsupportedMediaType(ClientError):
    status = 415
    code = "unsupported_media_type"


class RouteNotFound(ClientError):
    status = 404
    code = "not_found"

    def __init__(self, method: str, path: str) -> None:
        super().__init__(
            f"no route for {clip(method, 20)} {clip(path)}; routes: POST /predict, GET /health, GET /ready, GET /openapi.json, "
            "and the Open Inference Protocol V2 under /v2"
        )


class MethodNotAllowed(ClientError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, method: str, path: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{clip(method, 20)} is not allowed on {clip(path)}; allowed: {', '.join(allowed)}")
        self.allowed = allowed


class ModelNotServed(ClientError):
    """An Open Inference Protocol request names a model (or version) this server does not serve."""

    status = 404
    code = "model_not_found"


class UnsupportedDatatype(ClientError):
    """An Open Inference Protocol tensor whose datatype the model cannot take (BYTES, BOOL, FP16...)."""

    status = 400
    code = "unsupported_datatype"


class UnknownOutput(ClientError):
    """An Open Inference Protocol request asks for an output the model does not produce."""

    status = 400
    code = "unknown_output"


class UnsupportedExtension(ClientError):
    """A protocol extension twinserve does not implement (the V2 binary tensor data extension)."""

    status = 400
    code = "unsupported_extension"


class ModelError(TwinserveError):
    """The model cannot be served; raised at start-up, never per request."""

    status = 503
    code = "model_unavailable"


class ModelNotFound(ModelError):
    code = "model_not_found"


class ModelIntegrityError(ModelError):
    """The artefact's SHA-256 differs from the one pinned in its metadata."""

    code = "model_integrity"

    def __init__(self, path: str, expected_sha256: str, actual_sha256: str) -> None:
        super().__init__(
            f"refusing to load {path}: its SHA-256 is {actual_sha256} but metadata.json pins "
            f"{expected_sha256}; the file was changed after it was registered"
        )
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256


class ModelPinMismatch(ModelIntegrityError):
    """The artefact's SHA-256 differs from the one the deployment pins (MODEL_SHA256).

    A subclass of ModelIntegrityError (same code, same start-up refusal); only the message
    differs, because the pin came from the deployment's configuration, not metadata.json.
    """

    def __init__(self, path: str, expected_sha256: str, actual_sha256: str) -> None:
        ModelError.__init__(
            self,
            f"refusing to load {path}: its SHA-256 is {actual_sha256} but the deployment pins "
            f"{expected_sha256} (MODEL_SHA256); this is not the model the deployment expects",
        )
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256


class UntrustedModel(ModelError):
    """A skops artefact holds types outside the reviewed trust list."""

    code = "model_untrusted"


class ModelLoadError(ModelError):
    code = "model_load_failed"


class RegistrationError(TwinserveError):
    """A model or sample that cannot be registered (not fitted, columns missing, the model fails
    on the sample); the registrar prints its one-line message and exits 2."""

    code = "registration_failed"
