"""The default local Lambda: a Runtime API in this project driving real ``awslambdaric`` processes.

Public API: :class:`LocalLambda` (context manager), :class:`LambdaSettings`, and the async core
:class:`LambdaService` for callers that already run an event loop.
"""

from .local_lambda import LocalLambda
from .service import InvokeResult, LambdaService
from .settings import LambdaSettings

__all__ = ["InvokeResult", "LambdaService", "LambdaSettings", "LocalLambda"]
