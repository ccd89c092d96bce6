"""Fixtures of the tuner's tests: AWS credentials that go nowhere, a moto function to tune."""

from __future__ import annotations

import io
import uuid
import zipfile

import boto3
import pytest
from moto import mock_aws
from tune_stand_in import FUNCTION, ORIGINAL_ENV, ORIGINAL_MEMORY, REGION
from twinserve_support.moto_env import use_fake_credentials


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_credentials(monkeypatch, REGION)


@pytest.fixture
def moto_lambda():
    """A function in moto's Docker-free Lambda (configuration only; Invoke just echoes)."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
        client = boto3.client("lambda", region_name=REGION)
        client.create_function(FunctionName=FUNCTION, Runtime="python3.12", Role=role, Handler="handler.handler",
                               Code={"ZipFile": code.getvalue()}, MemorySize=ORIGINAL_MEMORY,
                               Architectures=["arm64"], Environment={"Variables": dict(ORIGINAL_ENV)})
        yield client
