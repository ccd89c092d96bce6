"""Fixtures for the prediction client: stand-in deployments on 127.0.0.1 and fixed AWS credentials."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from twinserve.client import RetryPolicy
from twinserve.service import Service
from twinserve.settings import Settings
from twinserve_support.client_stand_in import Respond, StandIn, fake_aws_environment


@pytest.fixture
def stand_in() -> Iterator[Callable[[Respond], StandIn]]:
    """Start stand-ins on free loopback ports; every one is stopped when the test ends."""
    with ExitStack() as stack:
        yield lambda respond: stack.enter_context(StandIn(respond))


@pytest.fixture(scope="session")
def rf_service(rf_dir) -> Service:
    return Service.start(Settings(model_path=rf_dir))


@pytest.fixture(scope="session")
def small_limit_service(rf_dir) -> Service:
    """The real model behind a lower row limit (MAX_ROWS=700), to see the client read the server's."""
    return Service.start(Settings(model_path=rf_dir, max_rows=700))


@pytest.fixture
def quick_policy() -> RetryPolicy:
    """The real retry machinery with millisecond backoff, so tests count attempts without waiting."""
    return RetryPolicy(retries=3, backoff_factor_s=0.001, backoff_max_s=0.01, backoff_jitter_s=0.001)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Fixed fake credentials in the environment; no profile, config file or metadata service used."""
    unset, values = fake_aws_environment(tmp_path)
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
