"""Checks and facts for rendered Kubernetes manifests: strict schema validation, the
predictor's limits, deploy facts and network posture (subcommands in :data:`HELP`, the ``--help``).

Why: kubernetes-validate's own CLI only warns and exits 0, and a local run must apply exactly the
limits Kubernetes would.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# This script also runs under .venv-tools' Python (kubernetes-validate lives there), which does not
# install the project. twinserve_support.k8s needs only PyYAML, so the folder beside this file is put on
# the path: the script works under any of the project's Pythons without an install step.
sys.path.append(str(Path(__file__).resolve().parent))

import k8s_posture  # noqa: E402
from twinserve_support.k8s.manifests import (  # noqa: E402
    CONTAINER_NAME,
    DEPLOYMENT_NAME,
    ContainerLimits,
    ManifestError,
    load_objects,
    predictor_limits,
)
from twinserve_support.k8s.quantity import parse_quantity  # noqa: E402

HELP = """Checks and facts for rendered Kubernetes manifests (output of `kubectl kustomize`).

Subcommands:
  schema  strict schema validation of every object against one pinned Kubernetes
          version, with kubernetes-validate's Python API. Unlike its CLI (which only
          warns and exits 0), an unknown kind or a removed apiVersion is an error here.
  limits  print the predictor container's CPU and memory limits, so a local run
          (podman --cpus/--memory, the benchmark) applies exactly what Kubernetes would.
  describe  print facts the deploy script needs (namespace, image, ...) as KEY=VALUE.
  posture   who can reach the pods (k8s_posture.py): NetworkPolicy sources, Ingress paths
            and TLS, the metrics port; one line per problem.

Exit codes: 0 all good, 1 a check failed, 2 usage or input error.

Examples:
  python scripts/k8s_validate.py schema --kubernetes-version 1.37.0 build/k8s/dev.yaml
  python scripts/k8s_validate.py limits build/k8s/dev.yaml --format podman
  python scripts/k8s_validate.py posture build/k8s/prod.yaml
"""
"""The ``--help`` text: what it does, step by step, and its exit codes."""

__all__ = ["CONTAINER_NAME", "DEPLOYMENT_NAME", "ContainerLimits", "ManifestError", "describe", "image_name",
           "load_objects", "main", "parse_quantity", "predictor_limits", "validate_schemas"]


def _load(path: Path) -> list[dict[str, Any]]:
    """:func:`load_objects`, with a file that is not UTF-8 text (a binary, say) as a ManifestError."""
    try:
        return load_objects(path)
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text (byte {exc.start}); expected rendered YAML manifests") from None


# ---------------------------------------------------------------------------- schema
# Custom resources kubernetes-validate has no schema for: a vendored strict schema each, so an
# optional overlay's CRD objects are checked as strictly as the built-in kinds.
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"):
        Path(__file__).resolve().parents[1] / "k8s" / "overlays" / "monitoring" / "servicemonitor.schema.json",
}


def validate_schemas(objects: list[dict[str, Any]], kubernetes_version: str, source: str) -> list[str]:
    """Strictly validate each object; return one message per problem (empty = valid).

    Strict mode rejects unknown fields. SchemaNotFoundError (unknown kind, or an
    apiVersion the pinned Kubernetes no longer serves) is a failure, not a warning.
    Raises ManifestError if kubernetes-validate does not know the pinned version.
    """
    import kubernetes_validate  # deferred: only in .venv-tools, not needed by `limits`
    from kubernetes_validate.utils import (
        InvalidSchemaError,
        SchemaNotFoundError,
        ValidationError,
        VersionNotSupportedError,
    )

    problems = []
    for obj in objects:
        name = f"{obj['kind']}/{obj.get('metadata', {}).get('name', '?')}"
        schema_file = CRD_SCHEMAS.get((obj.get("apiVersion"), obj.get("kind")))
        if schema_file is not None:
            import jsonschema

            validator = jsonschema.Draft7Validator(json.loads(schema_file.read_text()))
            problems += [f"{source}: {name}: {e.message}" for e in validator.iter_errors(obj)]
            continue
        try:
            kubernetes_validate.validate(obj, kubernetes_version, strict=True)
        except ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "(top level)"
            problems.append(f"{source}: {name}: {where}: {exc.message}")
        except (SchemaNotFoundError, InvalidSchemaError) as exc:
            problems.append(f"{source}: {name}: {exc.message}")
        except VersionNotSupportedError as exc:
            raise ManifestError(f"kubernetes-validate has no schemas for Kubernetes {exc.version}") from exc
    return problems


def cmd_schema(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        objects = _load(path)
        if not objects:
            raise ManifestError(f"{path}: no Kubernetes objects (empty render?)")
        problems = validate_schemas(objects, args.kubernetes_version, str(path))
        for problem in problems:
            print(f"FAIL {problem}", file=sys.stderr)
        failed += len(problems)
        status = "ok" if not problems else f"{len(problems)} problem(s)"
        print(f"{path}: {len(objects)} objects, strict schema of Kubernetes "
              f"{args.kubernetes_version}: {status}")
    return 1 if failed else 0


# ---------------------------------------------------------------------------- limits
def cmd_limits(args: argparse.Namespace) -> int:
    limits = predictor_limits(_load(args.file))
    if args.format == "json":
        print(json.dumps(limits.as_dict(), sort_keys=True))
    else:  # podman / docker run flags
        print(f"--cpus={limits.cpu_cores.normalize():f} --memory={limits.memory_bytes}")
    return 0


# --------------------------------------------------------------------------- posture
def cmd_posture(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        problems = k8s_posture.problems(_load(path))
        for problem in problems:
            print(f"FAIL {path}: {problem}", file=sys.stderr)
        failed += len(problems)
        print(f"{path}: posture ({', '.join(k8s_posture.CHECKS)}): "
              + ("ok" if not problems else f"{len(problems)} problem(s)"))
    return 1 if failed else 0


# -------------------------------------------------------------------------- describe
def image_name(image: str) -> str:
    """The image reference without its tag and digest: what kustomize's `images:` entries
    match on (``host:5000/team/app:1.0@sha256:...`` -> ``host:5000/team/app``)."""
    name = image.split("@", 1)[0]
    head, sep, tag = name.rpartition(":")
    return head if sep and "/" not in tag else name


def describe(objects: list[dict[str, Any]]) -> dict[str, str]:
    """Namespace, image, HPA range, Service and (where the overlay has one) Ingress and its
    certificate ARN, as strings.

    Raises ManifestError if the Deployment is missing.
    """
    deployment = next((o for o in objects if o["kind"] == "Deployment"
                       and o["metadata"]["name"] == DEPLOYMENT_NAME), None)
    if deployment is None:
        raise ManifestError(f"no Deployment {DEPLOYMENT_NAME} in the manifests")
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"]
                     if c["name"] == CONTAINER_NAME)
    facts = {"deployment": DEPLOYMENT_NAME,
             "namespace": deployment["metadata"].get("namespace", "default"),
             "image": container["image"],
             "image_name": image_name(container["image"])}
    for obj in objects:
        if obj["kind"] == "HorizontalPodAutoscaler":
            facts["min_replicas"] = str(obj["spec"].get("minReplicas", 1))
            facts["max_replicas"] = str(obj["spec"]["maxReplicas"])
        if obj["kind"] == "Service" and obj["metadata"]["name"] == DEPLOYMENT_NAME:
            facts["service"] = obj["metadata"]["name"]
        if obj["kind"] == "Ingress":
            facts["ingress"] = obj["metadata"]["name"]
            arn = (obj["metadata"].get("annotations") or {}).get(k8s_posture.ALB + "certificate-arn")
            if arn:
                facts["certificate_arn"] = arn
    return facts


def cmd_describe(args: argparse.Namespace) -> int:
    facts = describe(_load(args.file))
    if args.get:
        if args.get not in facts:
            raise ManifestError(f"unknown key {args.get!r}; known: {', '.join(sorted(facts))}")
        print(facts[args.get])
    else:
        for key, value in facts.items():
            print(f"{key}={value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="k8s_validate.py", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    schema = sub.add_parser("schema", help="strict schema validation against a pinned Kubernetes version")
    schema.add_argument("--kubernetes-version", required=True, metavar="X.Y.Z",
                        help="Kubernetes version whose OpenAPI schemas to use, e.g. 1.37.0")
    schema.add_argument("files", nargs="+", type=Path, help="rendered manifests ('-' for stdin)")
    schema.set_defaults(func=cmd_schema)

    limits = sub.add_parser("limits", help="CPU and memory limits of the predictor container")
    limits.add_argument("file", type=Path, help="a rendered overlay ('-' for stdin)")
    limits.add_argument("--format", choices=["json", "podman"], default="json",
                        help="json (default) or podman/docker run flags (--cpus=1 --memory=BYTES)")
    limits.set_defaults(func=cmd_limits)

    posture = sub.add_parser("posture", help="NetworkPolicy sources, Ingress paths and TLS, the metrics port")
    posture.add_argument("files", nargs="+", type=Path, help="rendered manifests ('-' for stdin)")
    posture.set_defaults(func=cmd_posture)

    desc = sub.add_parser("describe", help="namespace, image, HPA range, service and ingress as KEY=VALUE lines")
    desc.add_argument("file", type=Path, help="a rendered overlay ('-' for stdin)")
    desc.add_argument("--get", metavar="KEY", help="print only this value (e.g. namespace)")
    desc.set_defaults(func=cmd_describe)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, AttributeError, StopIteration) as exc:  # an object without a field a check reads
        what = f"no field {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        print(f"error: an object in the manifests lacks what {args.command} reads ({what})", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
