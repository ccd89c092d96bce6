"""moto in server mode as the AWS stand-in for the deploy tests, with its one deviation from AWS patched.

    python tests/deploy/moto_stand_in.py --port 5123      (binds 127.0.0.1 only)

Two deviations from AWS are patched; everything else is moto 5.2.5 as released:

1. ValidateTemplate: moto runs cfn-lint and rejects a template on the first match of *any* level,
   warnings included. AWS's ValidateTemplate refuses invalid templates only; a template with
   cfn-lint warnings (W3005 "redundant DependsOn" is in the HTTP API resources the Framework
   generates) deploys on AWS. Here only cfn-lint *errors* (rule ids E...) are kept.
2. Lambda LastModified: moto keeps a function's creation time when its code or configuration is
   updated (also through a stack update); AWS sets LastModified on every update. The Framework
   redeploys whenever its uploaded artefacts are newer than a function's LastModified, so without
   this every deploy after an update would deploy again instead of reporting "No changes".

Run the server with a scratch working directory: moto writes the template to ``file.tmp`` in its
working directory while validating.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def accept_what_aws_accepts() -> None:
    """Make ValidateTemplate refuse cfn-lint errors only, as AWS refuses invalid templates only."""
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.validate_template

    def validate_template(self: CloudFormationBackend, template: str) -> list[Any]:
        return [match for match in original(self, template) if match.rule.id.startswith("E")]

    CloudFormationBackend.validate_template = validate_template  # type: ignore[method-assign]


def stamp_lambda_updates() -> None:
    """Set a function's LastModified on code and configuration updates, as AWS does."""
    from moto.awslambda.models import LambdaFunction
    from moto.core.utils import iso_8601_datetime_with_nanoseconds

    for name in ("update_configuration", "update_function_code"):
        original = getattr(LambdaFunction, name)

        def updated(self: LambdaFunction, spec: dict[str, Any], _original: Any = original) -> Any:
            self.last_modified = iso_8601_datetime_with_nanoseconds()
            return _original(self, spec)

        setattr(LambdaFunction, name, updated)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    args = parser.parse_args(argv)
    accept_what_aws_accepts()
    stamp_lambda_updates()
    from moto.server import main as moto_main

    moto_main(["--host", "127.0.0.1", "--port", str(args.port)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
