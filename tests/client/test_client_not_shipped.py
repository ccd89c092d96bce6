"""The client is tooling, not serving code: the Lambda zip and the container image leave it out."""

from __future__ import annotations

import os

from twinserve_support.paths import REPO

CORE = REPO / "shared" / "twinserve"

def test_the_lambda_package_leaves_the_client_out():
    import lambda_package_tool

    ignored = lambda_package_tool.IGNORED(str(CORE), os.listdir(CORE))
    assert {"client", "cli.py", "training.py"} <= set(ignored)
    assert "service.py" not in ignored


def test_the_image_build_context_leaves_the_client_out():
    lines = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]
    allow = lines.index("!shared/twinserve/")
    assert any(line.rstrip("/") == "shared/twinserve/client" for line in lines[allow + 1:])
