"""Forced cold starts on a SnapStart function: publish, move the alias, put it back, delete the versions.

moto 5.2.5 keeps versions and aliases (PublishVersion, UpdateAlias, DeleteFunction with a
qualifier, the ``published_version_active`` waiter) but reports ``SnapStart.ApplyOn == "None"``
whatever the function was created with, so the SnapStart path is switched on by the caller
(``snap_start=True``) there, and the detection from the alias's version is checked with
botocore's Stubber answering in the documented shape.
"""

from __future__ import annotations

import io
import uuid
import zipfile

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from twinbench.aws.forced_cold import NONCE_ENV_VAR, ColdStartError, ForcedColdStarts
from twinbench.aws.report_line import format_report_line, parse_report_line
from twinserve_support.moto_env import use_fake_credentials

REGION = "eu-west-1"
FN = "twinserve-dev-predict"
ALIAS = "snapstart"
ORIGINAL_ENV = {"MODEL_PATH": "/var/task/model"}


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    use_fake_credentials(monkeypatch, REGION)


@pytest.fixture
def lam():
    """A function with version 1 published and the `snapstart` alias on it, as the deploy leaves it."""
    with mock_aws():
        client = boto3.client("lambda", region_name=REGION)
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
        client.create_function(FunctionName=FN, Runtime="python3.12", Role=role, Handler="handler.handler",
                               Code={"ZipFile": code.getvalue()}, Environment={"Variables": dict(ORIGINAL_ENV)},
                               SnapStart={"ApplyOn": "PublishedVersions"})
        version = client.publish_version(FunctionName=FN)["Version"]
        client.create_alias(FunctionName=FN, Name=ALIAS, FunctionVersion=version)
        yield client


def alias_version(lam) -> str:
    return lam.get_alias(FunctionName=FN, Name=ALIAS)["FunctionVersion"]


def versions(lam) -> list[str]:
    return [v["Version"] for v in lam.list_versions_by_function(FunctionName=FN)["Versions"]]


def served_env(lam) -> dict[str, str]:
    return lam.get_function_configuration(FunctionName=FN, Qualifier=ALIAS)["Environment"]["Variables"]


def test_each_force_publishes_a_version_moves_the_alias_and_the_end_puts_everything_back(lam):
    with ForcedColdStarts(lam, FN, delay_s=0, alias=ALIAS, snap_start=True) as forcer:
        assert forcer.qualifier == ALIAS
        nonces = []
        for n in range(1, 4):
            forcer.force()
            assert len(forcer.published_versions) == n
            assert alias_version(lam) == forcer.published_versions[-1] != "1"
            nonces.append(served_env(lam)[NONCE_ENV_VAR])

        assert len(set(nonces)) == 3
        assert versions(lam) == ["$LATEST", "1", *forcer.published_versions]  # deleted when the block ends
    assert alias_version(lam) == "1" and versions(lam) == ["$LATEST", "1"]
    assert served_env(lam) == ORIGINAL_ENV
    assert lam.get_function_configuration(FunctionName=FN)["Environment"]["Variables"] == ORIGINAL_ENV
    assert forcer.restored


def test_alias_and_versions_put_back_after_an_exception(lam):
    with pytest.raises(RuntimeError, match="bench blew up"), \
            ForcedColdStarts(lam, FN, delay_s=0, alias=ALIAS, snap_start=True) as forcer:
        forcer.force()
        raise RuntimeError("bench blew up")
    assert alias_version(lam) == "1" and versions(lam) == ["$LATEST", "1"] and forcer.restored


def test_without_snapstart_nothing_is_published_and_the_alias_is_not_touched(lam):
    # moto reports ApplyOn "None" for version 1: detection says no SnapStart, $LATEST is bumped as before.
    with ForcedColdStarts(lam, FN, delay_s=0, alias=ALIAS) as forcer:
        assert forcer.qualifier is None
        forcer.force()
        assert NONCE_ENV_VAR in lam.get_function_configuration(FunctionName=FN)["Environment"]["Variables"]
    assert versions(lam) == ["$LATEST", "1"] and alias_version(lam) == "1"
    assert forcer.published_versions == [] and forcer.restored


def test_an_absent_alias_means_no_snapstart_unless_the_caller_says_so(lam):
    with ForcedColdStarts(lam, FN, delay_s=0, alias="no-such-alias") as forcer:
        assert forcer.qualifier is None
    with pytest.raises(ColdStartError, match="not found"), \
            ForcedColdStarts(lam, FN, delay_s=0, alias="no-such-alias", snap_start=True):
        pass
    with pytest.raises(ColdStartError, match="needs the alias"), ForcedColdStarts(lam, FN, snap_start=True):
        pass


@pytest.mark.parametrize(("apply_on", "qualifier"), [("PublishedVersions", ALIAS), ("None", None)])
def test_snapstart_is_read_from_the_version_the_alias_points_to(apply_on, qualifier):
    client = boto3.client("lambda", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("get_function_configuration", {"FunctionName": FN}, {"FunctionName": FN})
        stub.add_response("get_alias", {"Name": ALIAS, "FunctionVersion": "7"}, {"FunctionName": FN, "Name": ALIAS})
        stub.add_response("get_function_configuration",
                          {"FunctionName": FN, "Version": "7",
                           "SnapStart": {"ApplyOn": apply_on, "OptimizationStatus": "On"}},
                          {"FunctionName": FN, "Qualifier": "7"})
        with ForcedColdStarts(client, FN, alias=ALIAS) as forcer:
            assert forcer.qualifier == qualifier
        stub.assert_no_pending_responses()


def test_without_permission_to_read_the_alias_an_undeclared_function_is_forced_through_latest(capsys):
    """lambda:GetAlias only detects SnapStart: a caller without it keeps the $LATEST path (said on
    stderr) unless it declared SnapStart, which then fails in one line."""
    client = boto3.client("lambda", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("get_function_configuration", {"FunctionName": FN}, {"FunctionName": FN})
        stub.add_client_error("get_alias", "AccessDeniedException", "not authorized: lambda:GetAlias", 403)
        with ForcedColdStarts(client, FN, alias=ALIAS) as forcer:
            assert forcer.qualifier is None
        stub.assert_no_pending_responses()
    assert "forcing $LATEST" in capsys.readouterr().err
    with Stubber(client) as stub:
        stub.add_response("get_function_configuration", {"FunctionName": FN}, {"FunctionName": FN})
        stub.add_client_error("get_alias", "AccessDeniedException", "not authorized: lambda:GetAlias", 403)
        with pytest.raises(ColdStartError), ForcedColdStarts(client, FN, alias=ALIAS, snap_start=True):
            pass


def test_a_report_with_restore_duration_is_a_restore_not_an_init():
    restore = parse_report_line(format_report_line("r1", 12.5, 13, 1024, 90, restore_duration_ms=410.2))
    init = parse_report_line(format_report_line("r2", 12.5, 13, 1024, 90, init_duration_ms=800.0))
    warm = parse_report_line(format_report_line("r3", 2.0, 2, 1024, 90))
    assert (restore.cold_kind, init.cold_kind, warm.cold_kind) == ("restore", "init", None)
    assert restore.cold_start and restore.init_duration_ms is None
