"""The things the benchmark measures, one module per target, all behind :class:`Target`.

``container`` (gunicorn under the pod's limits, or the image under podman), ``lambda_local``
(the emulator in :mod:`twinbench.local_lambda`), ``lambda_offline_target`` (serverless-offline)
and ``remote`` (deployed URLs). A new target is one new module implementing :class:`Target`.
"""

from twinbench.targets.base import ColdBatch, ColdSample, Target, request_body, request_payloads
from twinbench.targets.container import ContainerTarget
from twinbench.targets.lambda_local import LambdaTarget
from twinbench.targets.lambda_offline import OFFLINE_LABEL, OfflineLambdaError
from twinbench.targets.lambda_offline_target import OfflineLambdaTarget
from twinbench.targets.remote import RemoteLambdaTarget, RemoteTarget

__all__ = ["OFFLINE_LABEL", "ColdBatch", "ColdSample", "ContainerTarget", "LambdaTarget", "OfflineLambdaError",
           "OfflineLambdaTarget", "RemoteLambdaTarget", "RemoteTarget", "Target", "request_body", "request_payloads"]
