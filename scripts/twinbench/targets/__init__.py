"""The things the benchmark measures, one module per target, all behind :class:`Target`.

``container`` (gunicorn under the pod's limits, or the image under podman), ``local_lambda_target``
(the emulator in :mod:`twinbench.local_lambda`, run by ``lambda_process``), ``offline_lambda_target``
(the ``osls offline`` server of ``serverless_offline``) and ``remote`` (deployed URLs). A new target is one new module implementing :class:`Target`.
"""

from twinbench.targets.base import ColdBatch, ColdSample, Target, request_body, request_payloads
from twinbench.targets.container import ContainerTarget
from twinbench.targets.local_lambda_target import LambdaTarget
from twinbench.targets.offline_lambda_target import OfflineLambdaTarget
from twinbench.targets.remote import RemoteLambdaTarget, RemoteTarget
from twinbench.targets.serverless_offline import OFFLINE_LABEL, OfflineLambdaError

__all__ = ["OFFLINE_LABEL", "ColdBatch", "ColdSample", "ContainerTarget", "LambdaTarget", "OfflineLambdaError",
           "OfflineLambdaTarget", "RemoteLambdaTarget", "RemoteTarget", "Target", "request_body", "request_payloads"]
