"""Forced cold starts: the env-var bump, the LastUpdateStatus waiter, and the restore after success,
failure, Ctrl-C and SIGTERM — against moto, and botocore's Stubber for states moto never reports."""

from __future__ import annotations

import io
import os
import signal
import uuid
import zipfile

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws
from twinbench.aws.forced_cold import (
    NONCE_ENV_VAR,
    ColdStartError,
    ForcedColdStarts,
    cold_from_headers,
    run_forced_cold_starts,
)
from twinserve_support.moto_env import use_fake_credentials

REGION = "eu-west-1"
FN = "twinserve-dev-predict"
ORIGINAL_ENV = {"MODEL_PATH": "/var/task/model", "LOG_LEVEL": "INFO"}


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    use_fake_credentials(monkeypatch, REGION)


def _create(lam, env: dict[str, str] | None = ORIGINAL_ENV) -> None:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    kwargs = {"Environment": {"Variables": dict(env)}} if env is not None else {}
    lam.create_function(FunctionName=FN, Runtime="python3.12", Role=role, Handler="handler.handler",
                        Code={"ZipFile": code.getvalue()}, MemorySize=512, **kwargs)


@pytest.fixture
def lam():
    with mock_aws():
        client = boto3.client("lambda", region_name=REGION)
        _create(client)
        yield client


def env_of(lam) -> dict[str, str]:
    return (lam.get_function_configuration(FunctionName=FN).get("Environment") or {}).get("Variables") or {}


def test_force_bumps_nonce_each_time_and_restores(lam):
    seen = []
    with ForcedColdStarts(lam, FN, delay_s=0) as forcer:
        for _ in range(3):
            waited = forcer.force()
            env = env_of(lam)
            assert waited >= 0
            assert {k: v for k, v in env.items() if k != NONCE_ENV_VAR} == ORIGINAL_ENV
            seen.append(env[NONCE_ENV_VAR])
            assert lam.get_function_configuration(FunctionName=FN)["LastUpdateStatus"] == "Successful"
    assert len(set(seen)) == 3  # a new value every time = a new configuration = a new environment
    assert env_of(lam) == ORIGINAL_ENV and forcer.restored


def test_restored_after_an_exception(lam):
    with pytest.raises(RuntimeError, match="bench blew up"), ForcedColdStarts(lam, FN, delay_s=0) as forcer:
        forcer.force()
        raise RuntimeError("bench blew up")
    assert env_of(lam) == ORIGINAL_ENV


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_restored_after_ctrl_c_or_sigterm(lam, sig):
    # A process started in the background by a non-interactive shell inherits SIGINT ignored;
    # a user's terminal gives Python its default Ctrl-C handler, which is what this test is about.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(KeyboardInterrupt), ForcedColdStarts(lam, FN, delay_s=0) as forcer:
            forcer.force()
            assert NONCE_ENV_VAR in env_of(lam)
            os.kill(os.getpid(), sig)
            # Python runs the handler between bytecodes: this line must never complete.
            for _ in range(10_000_000):
                pass
            pytest.fail("signal did not interrupt")
    finally:
        signal.signal(signal.SIGINT, previous_int)
    assert env_of(lam) == ORIGINAL_ENV
    assert signal.getsignal(signal.SIGTERM) is before  # our SIGTERM handler is gone again


def test_function_without_environment_is_restored_to_none(lam):
    lam.delete_function(FunctionName=FN)
    _create(lam, env=None)
    with ForcedColdStarts(lam, FN, delay_s=0) as forcer:
        forcer.force()
        assert set(env_of(lam)) == {NONCE_ENV_VAR}
    assert env_of(lam) == {}


def test_nothing_forced_nothing_written(lam):
    calls = []
    original = lam.update_function_configuration
    lam.update_function_configuration = lambda **kw: calls.append(kw) or original(**kw)
    with ForcedColdStarts(lam, FN, delay_s=0):
        pass
    assert calls == []


def test_missing_function_is_a_clear_error(lam):
    with pytest.raises(ColdStartError, match="function nope not found"), ForcedColdStarts(lam, "nope"):
        pass


# -- states moto never shows: InProgress, Failed, conflicts, AccessDenied ---------------------------


def _stubbed():
    client = boto3.client("lambda", region_name=REGION)
    return client, Stubber(client)


def _conf(status: str | None = None, reason: str | None = None, env=ORIGINAL_ENV) -> dict:
    conf = {"FunctionName": FN, "Environment": {"Variables": dict(env)}, "State": "Active"}
    if status:
        conf["LastUpdateStatus"] = status
    if reason:
        conf["LastUpdateStatusReason"] = reason
    return conf


def test_waiter_polls_until_successful():
    client, stub = _stubbed()
    stub.add_response("get_function_configuration", _conf("Successful"), {"FunctionName": FN})
    stub.add_response("update_function_configuration", _conf("InProgress"),
                      {"FunctionName": FN, "Environment": {"Variables": ANY}})
    for status in ("InProgress", "InProgress", "Successful"):
        stub.add_response("get_function_configuration", _conf(status), {"FunctionName": FN})
    stub.add_response("update_function_configuration", _conf("InProgress"),
                      {"FunctionName": FN, "Environment": {"Variables": ORIGINAL_ENV}})
    stub.add_response("get_function_configuration", _conf("Successful"), {"FunctionName": FN})
    with stub, ForcedColdStarts(client, FN, delay_s=0) as forcer:
        forcer.force()
    stub.assert_no_pending_responses()


def test_failed_update_raises_with_reason_and_still_restores():
    client, stub = _stubbed()
    stub.add_response("get_function_configuration", _conf("Successful"), {"FunctionName": FN})
    stub.add_response("update_function_configuration", _conf("InProgress"),
                      {"FunctionName": FN, "Environment": {"Variables": ANY}})
    stub.add_response("get_function_configuration",
                      _conf("Failed", "Lambda was unable to configure your environment variables because the "
                                      "environment variables you have provided exceeded the 4KB limit."),
                      {"FunctionName": FN})
    # the restore
    stub.add_response("update_function_configuration", _conf("InProgress"),
                      {"FunctionName": FN, "Environment": {"Variables": ORIGINAL_ENV}})
    stub.add_response("get_function_configuration", _conf("Successful"), {"FunctionName": FN})
    with stub, pytest.raises(ColdStartError, match="LastUpdateStatus='Failed'.*4KB limit"), \
            ForcedColdStarts(client, FN, delay_s=0) as forcer:
        forcer.force()
    stub.assert_no_pending_responses()


def test_conflicting_update_in_progress_is_waited_out():
    client, stub = _stubbed()
    stub.add_response("get_function_configuration", _conf("Successful"), {"FunctionName": FN})
    stub.add_client_error("update_function_configuration", "ResourceConflictException",
                          "The operation cannot be performed at this time. An update is in progress for resource",
                          http_status_code=409)
    stub.add_response("get_function_configuration", _conf("Successful"), {"FunctionName": FN})
    stub.add_response("update_function_configuration", _conf("InProgress"),
                      {"FunctionName": FN, "Environment": {"Variables": ANY}})
    stub.add_response("get_function_configuration", _conf("Successful"), {"FunctionName": FN})
    with stub:
        forcer = ForcedColdStarts(client, FN, delay_s=0).__enter__()
        forcer.force()
        forcer._remove_sigterm_handler()
    stub.assert_no_pending_responses()


def test_access_denied_names_the_permission():
    client, stub = _stubbed()
    stub.add_response("get_function_configuration", _conf("Successful"), {"FunctionName": FN})
    stub.add_client_error("update_function_configuration", "AccessDeniedException", "not authorized",
                          http_status_code=403)
    with stub, pytest.raises(ColdStartError, match="lambda:UpdateFunctionConfiguration"), \
            ForcedColdStarts(client, FN, delay_s=0) as forcer:
        forcer.force()


# -- classification ---------------------------------------------------------------------------------


def test_run_keeps_only_confirmed_cold_samples_and_counts_the_rest(lam):
    verdicts = iter([{"x-twinserve-cold": "true"}, {"X-Twinserve-Cold": "false"}, {}, {"x-twinserve-cold": "true"}])
    progress = []
    with ForcedColdStarts(lam, FN, delay_s=0) as forcer:
        result = run_forced_cold_starts(forcer, 4, invoke=lambda: next(verdicts), is_cold=cold_from_headers,
                                        progress=lambda i, n: progress.append((i, n)))
    assert len(result.samples) == 2 and result.misclassified_count == 1 and result.unknown_count == 1
    assert len(result.update_wait_s) == 4 and progress[-1] == (4, 4)
    assert env_of(lam) == ORIGINAL_ENV


@pytest.mark.parametrize(
    ("headers", "verdict"),
    [({"x-twinserve-cold": "true"}, True), ({"X-TWINSERVE-COLD": "False"}, False), ({}, None),
     ([("x-twinserve-cold", "maybe")], None), ([("content-type", "application/json"), ("x-twinserve-cold", "true")], True)],
)
def test_cold_from_headers(headers, verdict):
    assert cold_from_headers(headers) is verdict
