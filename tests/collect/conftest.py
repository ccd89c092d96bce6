"""Fixtures of the collector tests: the AWS stand-in (moto) with its one documented deviation patched."""

from __future__ import annotations

import pytest
from stand_in_patches import PATCH_MOTO_PERCENTILES


@pytest.fixture
def moto_percentiles():
    from moto.cloudwatch import models

    original = models.Statistics.get_statistics_for_type
    exec(PATCH_MOTO_PERCENTILES, {})
    yield
    models.Statistics.get_statistics_for_type = original
