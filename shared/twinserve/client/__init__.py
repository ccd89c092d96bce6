"""A client for deployed twinserve endpoints (``twinserve predict``): batches, retries, SigV4.

Not serving code: the Lambda zip and the container image leave this package out. It needs
``requests`` (and ``botocore`` for SigV4), which the serving core does not.
"""

from twinserve.client.api import BatchDone, PredictClient, Predictions, base_url, schema_from_openapi
from twinserve.client.batches import Schema
from twinserve.client.errors import (
    BadInput,
    CallError,
    GaveUp,
    ModelChanged,
    ServerRefused,
    UnexpectedAnswer,
    UsageError,
)
from twinserve.client.http import RetryPolicy

__all__ = [
    "BadInput",
    "BatchDone",
    "CallError",
    "GaveUp",
    "ModelChanged",
    "PredictClient",
    "Predictions",
    "RetryPolicy",
    "Schema",
    "ServerRefused",
    "UnexpectedAnswer",
    "UsageError",
    "base_url",
    "schema_from_openapi",
]
