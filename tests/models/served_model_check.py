"""`make model-dir-check`'s last step: the local Lambda (the awslambdaric emulator) started on a package
built with another MODEL_DIR answers with that model, on that model's own registered rows.

Usage: python tests/models/served_model_check.py PACKAGE_DIR MODEL_DIR   (exit 0 ok, 1 wrong model)
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from twinbench.targets.local_lambda_target import LambdaTarget
from twinserve.samples import request_bodies


def main(package: Path, model_dir: Path) -> int:
    expected = json.loads((model_dir / "metadata.json").read_text())["name"]
    body = request_bodies(model_dir)[0]
    with LambdaTarget(package_dir=package) as target:
        request = urllib.request.Request(target.url + "/predict", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    served = answer.get("model", {}).get("name")
    print(f"local Lambda on {package}: served {served!r} (expected {expected!r}), "
          f"predictions {answer.get('predictions')}")
    return 0 if served == expected else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
