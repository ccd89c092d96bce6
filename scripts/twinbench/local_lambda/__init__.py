"""The default local Lambda: a Runtime API in this project driving real ``awslambdaric`` processes.

Public API: :class:`LocalLambda` (context manager), :class:`LambdaSettings`, and the async core
:class:`LambdaService` for callers that already run an event loop.

Imported on first use: a module that needs only a light part (the front's header name in
``events``, the settings) does not pay for the service and aiohttp's server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .local_lambda import LocalLambda
    from .service import InvokeResult, LambdaService
    from .settings import LambdaSettings

__all__ = ["InvokeResult", "LambdaService", "LambdaSettings", "LocalLambda"]
_HOME = {"LocalLambda": ".local_lambda", "InvokeResult": ".service", "LambdaService": ".service",
         "LambdaSettings": ".settings"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name], __name__), name)
