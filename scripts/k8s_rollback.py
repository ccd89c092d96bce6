"""What a failed Kubernetes deploy must put back: written before ``kubectl apply``, used after a
failed rollout.

Why: ``kubectl rollout undo`` restores only the Deployment; the ConfigMap, HPA, Service and the
objects the apply created need their own record. Inputs, outputs and exit codes: :data:`HELP`
(the ``--help`` text).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

HELP = """What a failed Kubernetes deploy must put back: written before `kubectl apply`, used after a failed rollout.

Input: the rendered manifests about to be applied, and the live state of those objects before the
apply (`kubectl get -f RENDERED -o json --ignore-not-found`, plus the ConfigMap the live Deployment
uses, whose generated name differs from the new one). Output, in the run folder:

  restore.yaml   every live object as it was last applied (the kubectl.kubernetes.io/last-applied-
                 configuration annotation), except the Deployment, which `kubectl rollout undo`
                 restores: the previous ConfigMap, HPA, Service, Ingress, NetworkPolicy, ...
  created.txt    `kind/name` of every namespaced object the apply creates (new generated
                 ConfigMap included), deleted by the rollback
  first-deploy   present when no Deployment is live: there is nothing to roll back to

Exit codes: 0 written, 2 unreadable input.

Example:
  python scripts/k8s_rollback.py snapshot --rendered run/dev.yaml --live run/live.json --out run/rollback
"""
"""The ``--help`` text: what it does, step by step, and its exit codes."""

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Not namespaced, or not to be deleted by a rollback even when new (its deletion removes everything).
KEEP_KINDS = {"Namespace"}


def _items(text: str) -> list[dict[str, Any]]:
    """Objects of `kubectl get -o json` output: a List, one object, or nothing."""
    if not text.strip():
        return []
    doc = json.loads(text)
    return doc.get("items", []) if doc.get("kind", "").endswith("List") else [doc]


def _objects(docs: list[Any], source: Path) -> list[dict[str, Any]]:
    """``docs`` when each is an object with a kind and a metadata.name; ValueError (one line) otherwise."""
    for doc in docs:
        if not (isinstance(doc, dict) and isinstance(doc.get("kind"), str)
                and isinstance(doc.get("metadata"), dict) and isinstance(doc["metadata"].get("name"), str)):
            raise ValueError(f"{source}: an object without kind and metadata.name: {' '.join(str(doc).split())[:80]}")
    return docs


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def snapshot(rendered: list[dict[str, Any]], live: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str], bool]:
    """(objects to re-apply, `kind/name` to delete, first deploy?) for a rollback."""
    restore = []
    for obj in live:
        if obj["kind"] == "Deployment":
            continue
        applied = (obj["metadata"].get("annotations") or {}).get(LAST_APPLIED)
        if applied:
            restore.append(json.loads(applied))
    live_keys = {_key(o) for o in live}
    created = [f"{o['kind'].lower()}/{o['metadata']['name']}" for o in rendered
               if _key(o) not in live_keys and o["kind"] not in KEEP_KINDS]
    first = not any(o["kind"] == "Deployment" for o in live)
    return restore, created, first


def cmd_snapshot(args: argparse.Namespace) -> int:
    try:
        rendered = _objects([d for d in yaml.safe_load_all(args.rendered.read_text()) if d], args.rendered)
        live = [obj for path in args.live for obj in _objects(_items(path.read_text()), path)]
        restore, created, first = snapshot(rendered, live)
    except (OSError, ValueError, yaml.YAMLError, AttributeError) as exc:  # UnicodeDecodeError, JSON errors included
        print(f"error: cannot read the state to roll back to: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "restore.yaml").write_text(yaml.safe_dump_all(restore, sort_keys=False) if restore else "")
    (args.out / "created.txt").write_text("".join(f"{name}\n" for name in created))
    if first:
        (args.out / "first-deploy").write_text("")
    print(f"rollback: {len(restore)} object(s) to restore, {len(created)} to delete"
          + (" (first deploy: nothing to roll back to)" if first else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="k8s_rollback.py", description=HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    snap = sub.add_parser("snapshot", help="write restore.yaml and created.txt before an apply")
    snap.add_argument("--rendered", type=Path, required=True, help="the manifests about to be applied")
    snap.add_argument("--live", type=Path, action="append", default=[],
                      help="`kubectl get -o json` output of the live objects (repeatable)")
    snap.add_argument("--out", type=Path, required=True, help="folder for restore.yaml, created.txt")
    snap.set_defaults(func=cmd_snapshot)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
