"""The local Lambda end to end: real awslambdaric processes behind the Runtime API and the HTTP front.

The function is a tiny handler written into tmp_path here (not the packaged model), so these
tests do not depend on packaging. Each test starts and stops its own LocalLambda.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import re
import socket
import time
from pathlib import Path

import aiohttp
import pytest
import requests
from twinbench.aws.report_line import parse_report_line
from twinbench.local_lambda import LocalLambda
from twinbench.local_lambda.events import LOCAL_REQUEST_ID_HEADER
from twinbench.local_lambda.settings import DEFAULT_PYTHON
from twinserve_support.process.pids import pid_alive
from twinserve_support.process.wait import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DEFAULT_PYTHON.exists(),
                       reason=f"{DEFAULT_PYTHON} missing: run `make .venv-lambda/.stamp`"),
]

HANDLER = '''\
import base64, json, os, sys, time

_T0 = time.perf_counter()
time.sleep(float(os.environ.get("TEST_INIT_SLEEP_S", "0")))
if os.environ.get("TEST_INIT_FAIL"):
    raise RuntimeError("init failed on purpose")
_INIT_MS = (time.perf_counter() - _T0) * 1000
_COLD = True


def handler(event, context):
    global _COLD
    cold, _COLD = _COLD, False
    query = event.get("queryStringParameters") or {}
    if "sleep" in query:
        time.sleep(float(query["sleep"]))
    if event["rawPath"] == "/raise":
        raise ValueError("boom")
    if event["rawPath"] == "/raw":
        return {"plain": "json"}
    if event["rawPath"] == "/binary":
        return {"statusCode": 201, "headers": {"content-type": "application/octet-stream"},
                "cookies": ["a=1; Path=/", "b=2"], "isBase64Encoded": True,
                "body": base64.b64encode(b"\\x00\\x01\\xff").decode()}
    env = {k: os.environ.get(k) for k in ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "LAMBDA_TASK_ROOT",
                                          "PYTHONPATH", "AWS_LAMBDA_RUNTIME_API", "MY_VAR")}
    return {"statusCode": 200,
            "headers": {"content-type": "application/json", "x-twinserve-cold": str(cold).lower(),
                        "x-twinserve-init-ms": f"{_INIT_MS:.1f}", "x-pid": str(os.getpid())},
            "body": json.dumps({"event": event, "env": env, "cwd": os.getcwd(),
                                "dont_write_bytecode": sys.dont_write_bytecode,
                                "remaining_ms": context.get_remaining_time_in_millis()})}
'''


@pytest.fixture
def package(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "handler.py").write_text(HANDLER)
    return pkg


async def _concurrent_get(url: str, n: int) -> list[tuple[int, str]]:
    return [(status, text) for status, text, _ in await _concurrent_get_ids(url, n)]


async def _concurrent_get_ids(url: str, n: int) -> list[tuple[int, str, str | None]]:
    async with aiohttp.ClientSession() as session:
        async def one() -> tuple[int, str, str | None]:
            async with session.get(url) as response:
                return response.status, await response.text(), response.headers.get(LOCAL_REQUEST_ID_HEADER)
        return await asyncio.gather(*(one() for _ in range(n)))


def test_reserved_concurrency_2_with_6_concurrent_cold_requests(package: Path):
    with LocalLambda(package, reserved_concurrency=2, env={"TEST_INIT_SLEEP_S": "0.3"}) as fn:
        answers = asyncio.run(_concurrent_get(fn.url + "/?sleep=0.3", 6))
        stats = fn.stats()
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 200, 429, 429, 429, 429]
    for status, text in answers:
        if status == 429:
            assert json.loads(text) == {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                                        "Type": "User", "message": "Rate Exceeded."}
    assert stats["throttles"] == 4 and stats["cold_starts"] == 2 and stats["peak_environments"] == 2
    assert len(fn.reports) == 2 and all(r.init_duration_ms is not None for r in fn.reports)


def test_route_throttling_answers_429_before_invoking(package: Path):
    """API Gateway's route bucket: a burst of 2 at 0.01 req/s admits two, then 429 without an invocation."""
    with LocalLambda(package, throttle_rate_rps=0.01, throttle_burst=2) as fn:
        answers = [requests.get(fn.url + "/", timeout=30) for _ in range(4)]
        other_route = requests.post(fn.url + "/other", timeout=30)  # its own bucket, still full
        stats = fn.stats()
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert answers[2].json() == {"message": "Too Many Requests"}
    assert LOCAL_REQUEST_ID_HEADER not in answers[2].headers  # never invoked: no invocation id
    assert other_route.status_code == 200
    assert stats["route_throttles"] == 2 and stats["invocations"] == 3 and stats["throttles"] == 0
    assert len(fn.reports) == 3  # throttled requests are not billed: no REPORT


def test_every_invocation_records_when_it_reached_the_pool_throttled_ones_too(package: Path):
    """A throttled invoke has an id, as on AWS, and its arrival is kept: a model of the concurrency cap
    needs every request's arrival, not only the served ones'."""
    with LocalLambda(package, reserved_concurrency=1, env={"TEST_INIT_SLEEP_S": "0.2"}) as fn:
        before = time.monotonic()
        answers = asyncio.run(_concurrent_get_ids(fn.url + "/", 3))
        after = time.monotonic()
        rows = requests.get(fn.url + "/_local_lambda/occupancy", timeout=10).json()
    assert sorted(status for status, _, _ in answers) == [200, 429, 429]
    by_id = {row["request_id"]: row for row in rows}
    assert all(request_id in by_id for _, _, request_id in answers)  # every answer names its invocation
    for status, _, request_id in answers:
        row = by_id[request_id]
        assert before <= row["arrived_s"] <= after  # time.monotonic() of the serving process: one clock
        assert (row["busy_ms"] is None) == (status == 429)


def test_warm_reuse_then_idle_past_keep_alive_is_cold(package: Path):
    with LocalLambda(package, idle_s=0.4) as fn:
        first = requests.get(fn.url + "/")
        second = requests.get(fn.url + "/")
        assert first.headers["x-twinserve-cold"] == "true"
        assert second.headers["x-twinserve-cold"] == "false"
        assert first.headers["x-pid"] == second.headers["x-pid"]
        old_pid = int(first.headers["x-pid"])
        wait_until(lambda: not pid_alive(old_pid), 10.0, what="the idle environment reaped")
        third = requests.get(fn.url + "/")
        assert third.headers["x-twinserve-cold"] == "true" and int(third.headers["x-pid"]) != old_pid
        assert fn.stats()["reaped"] >= 1
        assert [r.cold_start for r in fn.reports] == [True, False, True]


def test_reap_all_forces_the_next_call_cold(package: Path):
    with LocalLambda(package) as fn:
        requests.get(fn.url + "/")
        assert fn.reap_all() == 1
        assert fn.stats()["environments"] == 0
        assert requests.get(fn.url + "/").headers["x-twinserve-cold"] == "true"


def test_report_lines_exact_format_and_init_only_on_cold(package: Path):
    with LocalLambda(package, memory_mb=512) as fn:
        responses = [requests.get(fn.url + "/") for _ in range(3)]
        logs = list(fn.logs)
    report_lines = [line for line in logs if line.startswith("REPORT ")]
    assert len(report_lines) == 3
    pattern = (r"REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
               r"Memory Size: 512 MB\tMax Memory Used: \d+ MB\t(Init Duration: \d+\.\d\d ms\t)?")
    for line in report_lines:
        assert re.fullmatch(pattern, line), line
    parsed = [parse_report_line(line) for line in report_lines]
    assert [p.init_duration_ms is not None for p in parsed] == [True, False, False]
    assert parsed == fn.reports
    cold = parsed[0]
    # billed time is rounded up from the unrounded durations; the REPORT prints each to 0.01 ms,
    # so their printed sum can sit up to 0.01 ms either side of what was billed
    printed_sum = cold.duration_ms + cold.init_duration_ms
    assert math.ceil(printed_sum - 0.01) <= cold.billed_duration_ms <= math.ceil(printed_sum + 0.01)
    assert 0 < cold.max_memory_used_mb < 512
    # the emulator's request id joins an HTTP answer to its REPORT record
    assert [r.headers["x-local-lambda-request-id"] for r in responses] == [p.request_id for p in parsed]
    assert any(line.startswith("START RequestId: ") for line in logs)
    assert any(line.startswith("END RequestId: ") for line in logs)
    # Init Duration covers the handler module's own init
    assert cold.init_duration_ms >= float(responses[0].headers["x-twinserve-init-ms"])


def test_each_invocation_records_how_long_it_held_its_environment(package: Path):
    """The concurrency cap counts held environments: the hold is longer than REPORT's Duration (it
    adds the Runtime API hand-offs) and shorter than the client's wait (no front, no return trip)."""
    with LocalLambda(package) as fn:
        timed = []
        for _ in range(3):
            started = time.perf_counter()
            response = requests.get(fn.url + "/")
            timed.append((response, (time.perf_counter() - started) * 1000.0))
        holds = requests.get(fn.url + "/_local_lambda/occupancy", timeout=10).json()
        reports = fn.reports
    assert [h["request_id"] for h in holds] == [r.headers["x-local-lambda-request-id"] for r, _ in timed]
    assert [h["cold"] for h in holds] == [True, False, False]
    for hold, report, (_, client_ms) in zip(holds, reports, timed, strict=True):
        assert report.request_id == hold["request_id"]
        assert report.duration_ms + (report.init_duration_ms or 0.0) <= hold["busy_ms"] + 0.01 < client_ms


def test_report_records_are_kept_out_of_the_collectors_walk(package: Path):
    # A soak keeps hundreds of thousands of records; gc walking them stalled the event loop.
    with LocalLambda(package) as fn:
        for _ in range(3):
            requests.get(fn.url + "/")
        rows = list(fn._service._report_rows)
        reports = fn.reports
        last = fn.last_report
        served = fn.stats()["environment_invocations"]
    assert list(served.values()) == [3]  # one environment served all three (the soak's RSS needs it)
    gc.collect()
    assert len(rows) == 3 and not any(gc.is_tracked(row) for row in rows)
    assert [r.request_id for r in reports] == [row[0] for row in rows]
    assert reports[0].cold_start and not reports[-1].cold_start
    assert last == reports[-1]


def test_timeout_answers_504_and_replaces_the_environment(package: Path):
    with LocalLambda(package, timeout_s=0.5) as fn:
        slow = requests.get(fn.url + "/?sleep=5", timeout=10)
        assert slow.status_code == 504
        assert slow.json() == {"message": "Endpoint request timed out"}
        assert fn.reports[-1].status == "timeout"
        after = requests.get(fn.url + "/")
        assert after.status_code == 200 and after.headers["x-twinserve-cold"] == "true"
        stats = fn.stats()
        assert stats["timeouts"] == 1 and stats["cold_starts"] == 2 and stats["environments"] == 1


def test_function_error_keeps_the_environment_and_init_error_does_not(package: Path, tmp_path: Path):
    with LocalLambda(package) as fn:
        ok = requests.get(fn.url + "/")
        boom = requests.get(fn.url + "/raise")
        assert boom.status_code == 502 and boom.json() == {"message": "Internal Server Error"}
        again = requests.get(fn.url + "/")
        assert again.headers["x-pid"] == ok.headers["x-pid"]  # a handler exception does not kill it
    with LocalLambda(package, env={"TEST_INIT_FAIL": "1"}) as fn:
        answers = [requests.get(fn.url + "/") for _ in range(2)]
        assert [a.status_code for a in answers] == [502, 502]
        stats = fn.stats()
        assert stats["cold_starts"] == 2 and stats["environments"] == 0  # each retry re-inits
        assert fn.reports[-1].status == "error" and fn.reports[-1].init_duration_ms is not None


def test_http_api_v2_event_and_response_through_the_real_runtime(package: Path):
    with LocalLambda(package, memory_mb=256, env={"MY_VAR": "yes"}, timeout_s=7) as fn:
        port = int(fn.url.rsplit(":", 1)[1])
        r = requests.post(fn.url + "/a/b?x=1&x=2&y=", data=b'{"k": [1, 2]}',
                          headers={"Content-Type": "application/json", "X-Custom": "V",
                                   "Cookie": "c1=v1; c2=v2"})
        assert r.status_code == 200
        body = r.json()
        event = body["event"]
        assert event["version"] == "2.0" and event["routeKey"] == "$default"
        assert event["rawPath"] == "/a/b" and event["rawQueryString"] == "x=1&x=2&y="
        assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
        assert event["headers"]["x-custom"] == "V" and event["headers"]["x-forwarded-port"] == str(port)
        assert all(k == k.lower() for k in event["headers"])
        assert event["cookies"] == ["c1=v1", "c2=v2"]
        assert event["requestContext"]["http"]["method"] == "POST"
        assert event["requestContext"]["http"]["path"] == "/a/b"
        assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
        assert abs(event["requestContext"]["timeEpoch"] - time.time() * 1000) < 60_000
        assert event["body"] == '{"k": [1, 2]}' and event["isBase64Encoded"] is False
        # the runtime's environment is Lambda's
        env = body["env"]
        assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" and env["MY_VAR"] == "yes"
        assert env["LAMBDA_TASK_ROOT"] == str(package.resolve()) == env["PYTHONPATH"] == body["cwd"]
        assert body["dont_write_bytecode"] is True
        assert 0 < body["remaining_ms"] <= 7000
        binary = requests.get(fn.url + "/binary")
        assert binary.status_code == 201 and binary.content == b"\x00\x01\xff"
        assert binary.headers["content-type"] == "application/octet-stream"
        assert binary.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]
        raw = requests.get(fn.url + "/raw")
        assert raw.status_code == 200 and raw.json() == {"plain": "json"}
    assert not (package / "__pycache__").exists(), "a .pyc was written: Lambda's code is read-only"


def test_warm_calls_do_not_pay_nagle_delays(package: Path):
    with LocalLambda(package) as fn:
        session = requests.Session()
        session.get(fn.url + "/")
        samples = []
        for _ in range(30):
            t0 = time.perf_counter()
            session.get(fn.url + "/")
            samples.append((time.perf_counter() - t0) * 1000)
        assert fn.stats()["runtime_api_tcp_nodelay"] is True
    # A delayed-ACK stall costs ~40 ms on every warm call, so even the quickest of 30 would pay it;
    # the quickest is what a loaded machine leaves alone (the median is a figure: serve-lambda --overhead).
    assert min(samples) < 25, samples


def test_cpu_quota_is_applied_or_reported(package: Path):
    with LocalLambda(package, memory_mb=1024) as fn:
        pid = int(requests.get(fn.url + "/").headers["x-pid"])
        quota = fn.stats()["cpu_quota"]
        if fn.cpu_quota_applied:
            own = Path(f"/proc/{pid}/cgroup").read_text()
            assert "twinbench-lambda-" in own
            assert quota["cpu_quota_us_per_period"] == 57886
        else:
            assert quota["detail"]
        group = quota["detail"].rsplit(" at ", 1)[-1]
    if quota["cpu_quota_applied"]:
        assert not Path(group).exists(), "the cgroup was left behind"


def test_no_orphan_process_or_port_after_exit(package: Path):
    with LocalLambda(package) as fn:
        asyncio.run(_concurrent_get(fn.url + "/?sleep=0.2", 3))
        pids = fn.stats()["environment_pids"]
        port = int(fn.url.rsplit(":", 1)[1])
        assert len(pids) == 3 and all(pid_alive(pid) for pid in pids)
    assert not any(pid_alive(pid) for pid in pids)
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))


def test_exception_inside_the_block_still_stops_everything(package: Path):
    pids: list[int] = []
    with pytest.raises(KeyError), LocalLambda(package) as fn:
        pids.append(int(requests.get(fn.url + "/").headers["x-pid"]))
        raise KeyError("boom")
    assert not pid_alive(pids[0])


def test_missing_interpreter_fails_at_start(package: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        LocalLambda(package, python=tmp_path / "no-python").start()
