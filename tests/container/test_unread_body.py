"""The container's WSGI app reads what it left of a refused body before answering (sync workers
close after each answer, and unread bytes turn the close into a reset that nginx answers with a 502)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from twinserve_support.paths import CONTAINER_SERVICE, REPO

_CHILD = r"""
import io, json, sys
from twinserve_flask.wsgi import app, service
limit = service.predictor.spec.max_body_bytes
out = {}
for name, size, claimed in (("over the limit", limit + 1, limit + 1), ("far over", 2 * limit, 2 * limit),
                            ("chunked", limit + 1, None), ("absurd", 4 * limit, 4 * limit)):
    stream = io.BytesIO(b"{" + b" " * (size - 2) + b"}")
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/predict", "CONTENT_TYPE": "application/json",
               "wsgi.input": stream, "wsgi.input_terminated": claimed is None}
    if claimed is not None:
        environ["CONTENT_LENGTH"] = str(claimed)
    seen = []
    b"".join(app(environ, lambda status, headers, exc_info=None: seen.append(status)))
    out[name] = {"status": seen[0], "left": size - stream.tell(), "limit": limit}
print(json.dumps(out))
"""


def test_a_refused_body_is_read_to_its_end_within_the_bound(rf_dir: Path):
    env = {**os.environ, "MODEL_PATH": str(rf_dir), "TWINSERVE_ACCESS_LOG": "off", "TWINSERVE_METRICS": "off",
           "PYTHONPATH": os.pathsep.join([str(CONTAINER_SERVICE), str(REPO / "shared")])}
    done = subprocess.run([sys.executable, "-c", _CHILD], cwd=CONTAINER_SERVICE, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {case["status"] for case in result.values()} == {"413 Request Entity Too Large"}, result
    assert result["over the limit"]["left"] == 0
    assert result["far over"]["left"] == 0
    assert result["chunked"]["left"] == 0
    # Beyond what nginx lets through, the rest stays unread: without nginx a client cannot keep a worker reading.
    assert 0 < result["absurd"]["left"] < 2 * result["absurd"]["limit"]
