"""Retries through urllib3's Retry against a real HTTP server on 127.0.0.1: what is retried, how often, how long."""

from __future__ import annotations

import itertools
import json
import threading
import time

import pytest
from twinserve.cli import main
from twinserve.client import GaveUp, PredictClient, RetryPolicy, ServerRefused
from twinserve_support.client_stand_in import Reply, prediction, scripted
from twinserve_support.process.net import free_port
from urllib3.util.retry import RequestHistory

ROW = [[1.0, 2.0, 3.0]]
THROTTLED = Reply(429, b'{"message":"Too Many Requests"}')


def test_429_then_200_is_retried(stand_in, quick_policy):
    server = stand_in(scripted([THROTTLED, prediction(1)]))
    with PredictClient(server.url, policy=quick_policy) as client:
        result = client.predict_rows(ROW)
    assert len(server.posts()) == 2  # the server saw the throttled attempt and the retry
    assert result.predictions == [1] and result.attempts == 2 and result.requests == 1


def test_retry_after_is_obeyed(stand_in):
    server = stand_in(scripted([Reply(429, b"{}", {"Retry-After": "1"}), prediction(1)]))
    no_backoff = RetryPolicy(retries=2, backoff_factor_s=0.0, backoff_jitter_s=0.0)
    t0 = time.perf_counter()
    with PredictClient(server.url, policy=no_backoff) as client:
        client.predict(ROW)
    # without the header the first retry is immediate (urllib3's schedule)
    assert time.perf_counter() - t0 >= 1.0 and len(server.posts()) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_until_it_succeeds(stand_in, quick_policy, status):
    server = stand_in(scripted([Reply(status, b'{"message":"Internal Server Error"}')] * 2 + [prediction(1)]))
    with PredictClient(server.url, policy=quick_policy) as client:
        assert client.predict_rows(ROW).attempts == 3


def test_gives_up_after_the_budget_with_the_last_answer(stand_in, quick_policy):
    server = stand_in(scripted([Reply(503, b'{"error":{"code":"model_unavailable","message":"warming"}}')]))
    with PredictClient(server.url, policy=quick_policy) as client, pytest.raises(GaveUp) as info:
        client.predict(ROW)
    assert len(server.posts()) == quick_policy.retries + 1 == info.value.attempts
    assert info.value.status == 503
    assert str(info.value) == "gave up after 4 attempts: last answer 503 model_unavailable: warming"


def test_backoff_grows_between_attempts(stand_in):
    server = stand_in(scripted([Reply(503)] * 3 + [prediction(1)]))
    policy = RetryPolicy(retries=3, backoff_factor_s=0.1, backoff_jitter_s=0.05, backoff_max_s=5.0)
    with PredictClient(server.url, policy=policy) as client:
        t0 = time.perf_counter()
        client.predict(ROW)
        elapsed = time.perf_counter() - t0
    # urllib3's schedule: retry 1 immediate, then factor * 2**(n-1) (+ jitter): 0, 0.2, 0.4
    retry = policy.to_urllib3()
    assert retry.backoff_jitter == 0.05
    failed = RequestHistory("POST", "/predict", None, 503, None)
    schedule = [retry.new(history=(failed,) * n).get_backoff_time() for n in (1, 2, 3)]
    assert schedule[0] == 0 and 0.2 <= schedule[1] <= 0.25 and 0.4 <= schedule[2] <= 0.45
    # ... and the client waits it out: the server saw each retry no sooner than its backoff
    gaps = [b.at_s - a.at_s for a, b in itertools.pairwise(server.posts())]
    assert len(gaps) == 3 and gaps[1] >= 0.2 and gaps[2] >= 0.4, gaps
    assert elapsed < 10.0  # not stuck: a generous deadline, the schedule above is the precise check


@pytest.mark.parametrize("status,code", [(400, "malformed_json"), (403, None), (413, "too_many_rows"), (422, "invalid_shape")])
def test_other_4xx_are_not_retried(stand_in, quick_policy, status, code):
    body = json.dumps({"error": {"code": code, "message": "nope"}} if code else {"message": "Forbidden"}).encode()
    server = stand_in(scripted([Reply(status, body)]))
    with PredictClient(server.url, policy=quick_policy) as client, pytest.raises(ServerRefused) as info:
        client.predict(ROW)
    assert len(server.posts()) == 1 and info.value.status == status and info.value.code == code


def test_connection_refused_is_retried_then_gives_up(quick_policy):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with PredictClient(url, policy=quick_policy) as client, pytest.raises(GaveUp) as info:
        client.predict(ROW)
    assert info.value.attempts == 4 and info.value.status is None
    assert "Connection refused" in str(info.value)


def test_a_slow_answer_times_out_and_is_retried(stand_in, quick_policy):
    retried = threading.Event()

    def respond(got):
        if len(server.posts()) == 1:
            retried.wait(30)  # the first answer is held until the client gave up on it and tried again
        else:
            retried.set()
        return prediction(1)

    server = stand_in(respond)
    with PredictClient(server.url, policy=quick_policy, timeout_s=1.0) as client:
        assert client.predict_rows(ROW).predictions == [1]
    assert len(server.posts()) == 2 and retried.is_set()


def test_cli_gives_up_with_exit_1_and_one_line(stand_in, capsys):
    server = stand_in(scripted([Reply(502, b'{"message":"Internal server error"}')]))
    code = main(["predict", "--url", server.url, "--row", "1,2,3", "--retries", "1"])
    err = capsys.readouterr().err
    assert code == 1 and len(server.posts()) == 2
    assert err == "twinserve predict: error: gave up after 2 attempts: last answer 502: Internal server error\n"


def test_cli_connection_error_exit_1(capsys):
    code = main(["predict", "--url", f"http://127.0.0.1:{free_port()}", "--row", "1,2", "--retries", "1"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("twinserve predict: error: gave up after 2 attempts: ") and err.count("\n") == 1


def test_cli_refused_exit_1_names_the_code(stand_in, capsys):
    server = stand_in(scripted([Reply(422, b'{"error":{"code":"invalid_shape","message":"row has 3 values"}}')]))
    code = main(["predict", "--url", server.url, "--row", "1,2,3"])
    assert code == 1
    assert capsys.readouterr().err == ("twinserve predict: error: server refused the request (422 invalid_shape): "
                                       "row has 3 values\n")
