"""The bench's remote mode signs as the client does: its load generator and its cold-start POSTs pass the
same SigV4 check. Pending the bench's ``sign`` hook (LoadGenerator, RemoteLambdaTarget, timed_post):
strict, so the markers must go once it lands."""

from __future__ import annotations

import asyncio

import pytest
from twinserve.client.sigv4 import SigV4Signer
from twinserve_support.client_stand_in import (
    FAKE_KEY_ID,
    FAKE_SECRET,
    StandIn,
    fake_aws_environment,
    prediction,
    scripted,
    sigv4_checked,
)

REGION = "eu-west-1"
BODY = b'{"features":[1.0]}'


@pytest.fixture
def signed_server(monkeypatch, tmp_path):
    unset, values = fake_aws_environment(tmp_path)
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    verdicts: list = []
    with StandIn(sigv4_checked(scripted([prediction(1)]), FAKE_KEY_ID, FAKE_SECRET, None, REGION, verdicts)) as server:
        yield server, SigV4Signer(server.url, region=REGION, reuse_s=1.0).sign, verdicts


def test_load_generator_signs_every_request(signed_server):
    from twinbench.measure.loadgen import LoadGenerator

    server, sign, verdicts = signed_server

    async def run():
        async with LoadGenerator(server.url, BODY, sign=sign) as gen:
            return await gen.sequential(20) + (await gen.open_loop(100, 1.0))[0]

    outcomes = asyncio.run(run())
    assert {o.status for o in outcomes} == {200} and len(verdicts) == len(outcomes) == 120
    assert all(v.ok for v in verdicts)


def test_remote_lambda_target_signs_its_posts(signed_server):
    from twinbench.targets import RemoteLambdaTarget
    from twinbench.targets.base import timed_post

    server, sign, verdicts = signed_server
    target = RemoteLambdaTarget(server.url, sign=sign)
    assert target.describe()["config"]["sigv4"] is True
    assert timed_post(target.url + "/predict", BODY, sign=target.sign)[0] == 200 and verdicts[-1].ok
