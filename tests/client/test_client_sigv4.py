"""SigV4 for IAM Function URLs: what the client sends is recomputed by a stand-in with botocore (and from the spec)."""

from __future__ import annotations

import json

import pytest
from twinserve.cli import main
from twinserve.client import PredictClient, UsageError
from twinserve.client.sigv4 import SigV4Signer, region_from_url, service_for_url
from twinserve_support.client_stand_in import (
    FAKE_KEY_ID,
    FAKE_SECRET,
    FAKE_TOKEN,
    Reply,
    prediction,
    scripted,
    serving,
    sigv4_checked,
    verify,
)

REGION = "eu-west-1"


@pytest.mark.parametrize("token", [None, FAKE_TOKEN], ids=["long-term", "session-token"])
def test_signed_requests_pass_the_stand_in(stand_in, rf_service, rf_metadata, aws_env, monkeypatch, token):
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    verdicts: list = []
    server = stand_in(sigv4_checked(serving(rf_service), FAKE_KEY_ID, FAKE_SECRET, token, REGION, verdicts))
    with PredictClient(server.url, sigv4=True, region=REGION) as client:
        assert client.schema().max_rows == 1000  # the signed GET /openapi.json
        answer = client.predict([rf_metadata["example_row"]] * 3)
    assert len(answer["predictions"]) == 3
    assert [v.ok for v in verdicts] == [True, True], [v.reason for v in verdicts]
    post = server.posts()[0]
    assert post.header("Authorization").startswith(f"AWS4-HMAC-SHA256 Credential={FAKE_KEY_ID}/")
    assert f"/{REGION}/lambda/aws4_request," in post.header("Authorization")
    assert len(post.header("X-Amz-Date")) == 16 and post.header("X-Amz-Date").endswith("Z")
    assert post.header("X-Amz-Security-Token") == token
    signed = set(verdicts[1].signed_headers)
    assert {"host", "x-amz-date", "x-amz-content-sha256", "content-type"} <= signed
    assert ("x-amz-security-token" in signed) == bool(token)


def test_the_stand_in_refuses_what_aws_would_refuse(stand_in, aws_env):
    """The verifier is not vacuous: a wrong secret, region or a changed body fail."""
    verdicts: list = []
    server = stand_in(sigv4_checked(scripted([prediction(1)]), FAKE_KEY_ID, FAKE_SECRET, None, REGION, verdicts))
    signer = SigV4Signer(server.url, region=REGION)
    url = server.url + "/predict"
    body = b'{"instances":[[1.0]]}'
    headers = signer.sign("POST", url, {"Content-Type": "application/json"}, body)
    import requests

    assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 200
    assert requests.post(url, data=body.replace(b"1.0", b"2.0"), headers=headers, timeout=5).status_code == 403
    assert "X-Amz-Content-SHA256 is not the body's SHA-256" in verdicts[-1].reason
    other_region = SigV4Signer(server.url, region="us-east-1").sign("POST", url, {}, body)
    assert requests.post(url, data=body, headers=other_region, timeout=5).status_code == 403
    assert "credential scope" in verdicts[-1].reason
    tampered = dict(headers, Authorization=headers["Authorization"][:-4] + "0000")
    assert requests.post(url, data=body, headers=tampered, timeout=5).status_code == 403
    assert verdicts[-1].reason == "signature mismatch"


def test_wrong_secret_is_a_403_refusal_exit_1(stand_in, aws_env, monkeypatch, capsys):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    server = stand_in(sigv4_checked(scripted([prediction(1)]), FAKE_KEY_ID, FAKE_SECRET, None, REGION, []))
    assert main(["predict", "--url", server.url, "--row", "1", "--sigv4", "--region", REGION]) == 1
    assert "server refused the request (403): The request signature we calculated does not match" in capsys.readouterr().err


def test_cli_signs_every_batch(stand_in, aws_env, tmp_path, capsys):
    verdicts: list = []

    def answer(got):
        if got.method != "POST":
            return Reply(404, b'{"message":"Not Found"}')
        return prediction(len(json.loads(got.body)["instances"]))

    server = stand_in(sigv4_checked(answer, FAKE_KEY_ID, FAKE_SECRET, None, REGION, verdicts))
    (tmp_path / "rows.json").write_text(json.dumps([[float(i)] for i in range(25)]))
    code = main(["predict", "--url", server.url, "--json", str(tmp_path / "rows.json"), "--sigv4",
                 "--region", REGION, "--batch-rows", "10", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert len(server.posts()) == 3 and all(v.ok for v in verdicts)


def test_a_retried_signed_request_stays_valid(stand_in, aws_env, quick_policy):
    verdicts: list = []
    server = stand_in(sigv4_checked(scripted([Reply(429, b"{}"), prediction(1)]), FAKE_KEY_ID, FAKE_SECRET,
                                    None, REGION, verdicts))
    with PredictClient(server.url, sigv4=True, region=REGION, policy=quick_policy) as client:
        client.predict([[1.0]])
    assert len(server.posts()) == 2 and all(v.ok for v in verdicts)


def test_every_attempt_is_signed_afresh_so_late_retries_stay_in_the_window(stand_in, aws_env, quick_policy,
                                                                            monkeypatch):
    """Each refusal moves the clock 6 minutes on (a long Retry-After, many retries): a resent first
    signature would be past SigV4's 5-minute window (403); a new one per attempt passes."""
    import datetime as dt

    import botocore.auth

    clock = [dt.datetime.now(dt.UTC).replace(microsecond=0)]
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: clock[0].replace(tzinfo=None))
    replies = iter([Reply(503, b"{}"), Reply(429, b"{}"), prediction(1)])

    def answer(got):
        reply = next(replies)
        clock[0] += dt.timedelta(minutes=6)
        return reply

    verdicts: list = []
    server = stand_in(sigv4_checked(answer, FAKE_KEY_ID, FAKE_SECRET, None, REGION, verdicts, now=lambda: clock[0]))
    with PredictClient(server.url, sigv4=True, region=REGION, policy=quick_policy) as client:
        assert client.predict_body(b'{"instances":[[1.0]]}', 1)[1].attempts == 3
    assert [v.ok for v in verdicts] == [True, True, True], [v.reason for v in verdicts]
    posts = server.posts()
    assert len({p.header("X-Amz-Date") for p in posts}) == 3
    assert len({p.header("Authorization") for p in posts}) == 3


@pytest.mark.parametrize("url", ["http://192.0.2.10:8080", "http://example.com", "http://localhost.example.com",
                                 "http://127.0.0.1.nip.io", "http://10.0.0.1", "HTTP://192.0.2.10"])
def test_sigv4_over_plain_http_to_another_machine_is_refused_exit_2(aws_env, capsys, url):
    """Nothing is signed or sent: a signed request in clear could be captured and replayed."""
    code = main(["predict", "--url", url, "--row", "1", "--sigv4", "--region", REGION,
                 "--retries", "0", "--timeout-s", "0.5"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("twinserve predict: error: SigV4 needs an https:// URL (plain http only to 127.0.0.1, ::1 "
                          "or localhost)")


def test_sigv4_refusal_comes_before_any_credential_lookup(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UsageError, match="SigV4 needs an https:// URL"):
        PredictClient("http://192.0.2.10", sigv4=True, region=REGION)
    with pytest.raises(UsageError, match="SigV4 needs an https:// URL"):
        PredictClient("http://192.0.2.10", signer=object())


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://127.3.4.5", "http://[::1]:9", "http://localhost:9",
                                 "http://LocalHost", "https://abc.lambda-url.eu-west-1.on.aws", "https://192.0.2.10"])
def test_sigv4_over_https_or_loopback_is_allowed(aws_env, url):
    signer = SigV4Signer(url, region=REGION)
    assert signer.sign("POST", url + "/predict", {}, b"{}")["Authorization"].startswith("AWS4-HMAC-SHA256 ")


def test_the_signer_refuses_a_plain_http_url_given_per_request(aws_env):
    """The bench's load generator signs URLs itself: the check holds at every signature too."""
    signer = SigV4Signer("https://abc.lambda-url.eu-west-1.on.aws")
    with pytest.raises(UsageError, match="not signing for http://192.0.2.10"):
        signer.sign("POST", "http://192.0.2.10/predict", {}, b"{}")


def test_region_and_service_from_the_host():
    assert region_from_url("https://abcdefghij0123456789.lambda-url.ap-southeast-2.on.aws/predict") == "ap-southeast-2"
    assert region_from_url("https://a1b2c3.execute-api.eu-west-1.amazonaws.com/dev") == "eu-west-1"
    assert region_from_url("http://127.0.0.1:8080") is None
    assert service_for_url("https://abc.lambda-url.eu-west-1.on.aws") == "lambda"
    assert service_for_url("https://a1b2c3.execute-api.eu-west-1.amazonaws.com") == "execute-api"


def test_region_from_the_function_url_then_the_environment(aws_env, monkeypatch):
    assert SigV4Signer("https://abc.lambda-url.us-west-2.on.aws").region == "us-west-2"
    with pytest.raises(UsageError, match="needs a region"):
        SigV4Signer("http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert SigV4Signer("http://127.0.0.1:9").region == "eu-central-1"


def test_no_credentials_exit_2(aws_env, monkeypatch, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(["predict", "--url", "http://127.0.0.1:9", "--row", "1", "--sigv4", "--region", REGION]) == 2
    assert "SigV4 needs AWS credentials" in capsys.readouterr().err


def test_unknown_profile_exit_2(aws_env, capsys):
    assert main(["predict", "--url", "http://127.0.0.1:9", "--row", "1", "--sigv4", "--profile", "nope"]) == 2
    err = capsys.readouterr().err
    assert "AWS configuration" in err and "nope" in err and err.count("\n") == 1


def test_verifier_agrees_with_botocore_for_a_fixed_date():
    """The spec recomputation and botocore give the same signature for a known request."""
    import datetime as dt

    from twinserve_support.client_stand_in import Received

    signer_headers = {"Host": "h.example", "X-Amz-Date": "20240101T000000Z",
                      "X-Amz-Content-SHA256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url="http://h.example/openapi.json", headers=dict(signer_headers))
    request.context["timestamp"] = "20240101T000000Z"
    auth = SigV4Auth(Credentials(FAKE_KEY_ID, FAKE_SECRET), "lambda", REGION)
    auth._inject_signature_to_request(
        request, auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request))
    got = Received("GET", "/openapi.json", tuple(request.headers.items()), b"")
    verdict = verify(got, FAKE_KEY_ID, FAKE_SECRET, None, REGION, now=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert verdict.ok, verdict.reason


def test_aiohttp_with_per_request_signing_passes(stand_in, aws_env):
    """The bench's load generator (aiohttp) signs with the same call: its requests pass the same check."""
    import asyncio

    import aiohttp

    verdicts: list = []
    server = stand_in(sigv4_checked(scripted([prediction(1)]), FAKE_KEY_ID, FAKE_SECRET, None, REGION, verdicts))
    signer = SigV4Signer(server.url, region=REGION, reuse_s=1.0)
    url, body = server.url + "/predict", b'{"features":[1.0]}'

    async def run() -> list[int]:
        async with aiohttp.ClientSession(headers={"content-type": "application/json"}) as session:
            statuses = []
            for _ in range(5):
                headers = signer.sign("POST", url, {"content-type": "application/json"}, body)
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    statuses.append(resp.status)
            return statuses

    assert asyncio.run(run()) == [200] * 5
    assert len(verdicts) == 5 and all(v.ok for v in verdicts), [v.reason for v in verdicts]


def test_reuse_returns_the_same_signature_only_for_the_same_request(aws_env):
    signer = SigV4Signer("http://127.0.0.1:9", region=REGION, reuse_s=30.0)
    first = signer.sign("POST", "http://127.0.0.1:9/predict", {"content-type": "application/json"}, b"{}")
    again = signer.sign("POST", "http://127.0.0.1:9/predict", {"content-type": "application/json"}, b"{}")
    other = signer.sign("POST", "http://127.0.0.1:9/predict", {"content-type": "application/json"}, b"[]")
    assert again == first and other["Authorization"] != first["Authorization"]
    assert other["X-Amz-Content-SHA256"] != first["X-Amz-Content-SHA256"]
    with pytest.raises(UsageError):
        SigV4Signer("http://127.0.0.1:9", region=REGION, reuse_s=301)


def test_credentials_that_fail_to_refresh_mid_run_are_one_line_exit_2(stand_in, aws_env, capsys, monkeypatch):
    """A role's credentials refreshed at a retry's signature can fail: one line, not a traceback."""
    from botocore.credentials import Credentials

    def expired(self):
        raise RuntimeError("the SSO session has expired")

    monkeypatch.setattr(Credentials, "get_frozen_credentials", expired)
    server = stand_in(scripted([prediction(1)]))
    assert main(["predict", "--url", server.url, "--row", "1", "--sigv4", "--region", REGION]) == 2
    err = capsys.readouterr().err
    assert err == "twinserve predict: error: AWS credentials: RuntimeError: the SSO session has expired\n"
    assert server.received == []
