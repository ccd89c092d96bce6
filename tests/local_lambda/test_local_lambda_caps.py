"""The HTTP front's route throttling, without runtime processes: a throttled request is answered 429
by the front (as API Gateway does) and never reaches the function."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from twinbench.local_lambda.events import LOCAL_REQUEST_ID_HEADER
from twinbench.local_lambda.front import create_front
from twinbench.local_lambda.service import InvokeResult, LambdaService
from twinbench.local_lambda.settings import LambdaSettings


def _service(tmp_path: Path, **caps) -> tuple[LambdaService, list[bytes]]:
    """A service whose invoke is a stand-in that records each payload (nothing is started)."""
    service = LambdaService(LambdaSettings(package_dir=tmp_path, cpu_quota=False, **caps))
    invoked: list[bytes] = []

    async def invoke(payload: bytes) -> InvokeResult:
        invoked.append(payload)
        return InvokeResult(f"id-{len(invoked)}", b'{"statusCode": 200, "body": "ok"}', False, None)  # type: ignore[arg-type]

    service.invoke = invoke  # type: ignore[method-assign]
    return service, invoked


async def _requests(service: LambdaService, calls: list[tuple[str, str]]) -> list[tuple[int, dict | str, bool]]:
    async with TestClient(TestServer(create_front(service))) as client:
        out = []
        for method, path in calls:
            response = await client.request(method, path)
            body = await response.json() if response.status == 429 else await response.text()
            out.append((response.status, body, LOCAL_REQUEST_ID_HEADER in response.headers))
        return out


def test_burst_then_429_per_route_and_never_invoked(tmp_path: Path):
    service, invoked = _service(tmp_path, throttle_rate_rps=0.001, throttle_burst=2)
    answers = asyncio.run(_requests(service, [("POST", "/predict")] * 3 + [("GET", "/health")]))
    assert [status for status, _, _ in answers] == [200, 200, 429, 200]
    status, body, has_id = answers[2]
    assert body == {"message": "Too Many Requests"} and not has_id
    assert len(invoked) == 3  # the throttled one never reached the function: nothing to bill
    assert service.counts["route_throttles"] == 1
    assert service.stats()["settings"]["throttle_burst"] == 2


def test_no_route_throttling_when_lifted(tmp_path: Path):
    service, invoked = _service(tmp_path)
    answers = asyncio.run(_requests(service, [("POST", "/predict")] * 20))
    assert all(status == 200 for status, _, _ in answers) and len(invoked) == 20
    assert service.route_throttle is None
