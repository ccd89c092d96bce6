"""Point a kustomize overlay at an image and pin the model that image serves (``kustomize edit
set image`` without the kustomize binary, which no pinned distribution installs here).

Why a script: the overlay's ``images:`` and its ``model.env`` (MODEL_SHA256) must change together
and atomically, and nothing but those may change. What it does, step by step, and its exit codes
are the ``--help`` text (:data:`HELP`); docs/deploy-kubernetes.md describes where it fits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HELP = """Point a kustomize overlay at an image, and pin the model that image serves.

What `kustomize edit set image twinserve-predict=REF` does, for the one image this project
has, without the kustomize binary: kubectl bundles kustomize's build but not its `edit`
command, and no pinned kustomize distribution installs from the registries this project
uses. The overlay's top-level `images:` block is rewritten in place (the rest of the file,
comments included, is kept byte for byte) and the result is re-read to prove that nothing
but `images:` changed.

It also writes the overlay's model.env (merged into the twinserve-predict-config ConfigMap):
MODEL_SHA256, the SHA-256 of the model folder's metadata.json (which pins every artefact's
hash), taken from the folder the image was built from (--model-dir, else $MODEL_DIR, else
./model, as `make image` bakes it). The service refuses to start when the model in the image
is not that one. --model-sha256 none clears the pin.

Both files are written atomically and together: each is written beside itself and renamed
into place only once both are complete (a failed rename puts the other file back), so a
failure leaves the overlay as it was.

An overlay whose committed image is pinned by digest (prod) only takes digests.

Exit codes: 0 written, 1 the rewrite could not be verified or written (nothing changed),
2 usage or input error (nothing written).

Examples:
  python scripts/k8s_set_image.py k8s/overlays/dev --image localhost/twinserve-predict:0.1.0
  python scripts/k8s_set_image.py k8s/overlays/prod \\
      --image ghcr.io/acme/twinserve-predict@sha256:<64 hex> --model-sha256 <64 hex>
"""
"""The ``--help`` text: what it does, step by step, and its exit codes."""

IMAGE_NAME = "twinserve-predict"  # the placeholder in k8s/base/deployment.yaml
MODEL_ENV_FILE = "model.env"
ENV_MODEL_SHA256 = "MODEL_SHA256"  # twinserve.settings.ENV_MODEL_SHA256

# A container image reference: [host[:port]/]path[:tag][@sha256:digest], as the distribution
# reference grammar allows (lower-case path components).
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)"
_REFERENCE = re.compile(
    rf"(?P<name>{_HOST}?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class InputError(Exception):
    """Bad arguments or an overlay / model folder this script cannot work with (exit code 2)."""


class VerifyError(Exception):
    """The rewritten kustomization does not say what was intended (exit code 1)."""


@dataclass(frozen=True)
class ImageRef:
    name: str
    tag: str | None
    digest: str | None

    def images_entry(self, match: str = IMAGE_NAME) -> dict[str, str]:
        """The kustomize `images:` entry for the image named ``match`` in the resources; a
        digest wins over a tag (kustomize would ignore the tag)."""
        entry = {"name": match, "newName": self.name}
        if self.digest:
            entry["digest"] = self.digest
        else:
            entry["newTag"] = str(self.tag)
        return entry


def parse_image(text: str) -> ImageRef:
    """Raises InputError unless ``text`` is a reference with a tag or a sha256 digest."""
    match = _REFERENCE.fullmatch(text.strip())
    if not match:
        raise InputError(f"{text!r} is not an image reference like registry.example.com/team/name:tag "
                         "or name@sha256:<64 hex digits>")
    if not match["tag"] and not match["digest"]:
        raise InputError(f"{text!r} names neither a tag nor a digest (that would mean :latest); add one")
    return ImageRef(match["name"], match["tag"], match["digest"])


def load_kustomization(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text()
        doc = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("kind") != "Kustomization":
        raise InputError(f"{path} is not a kustomization")
    return text, doc


def current_entry(doc: dict[str, Any], match: str) -> dict[str, Any] | None:
    return next((i for i in doc.get("images") or [] if i.get("name") == match), None)


def render_images(images: list[dict[str, Any]]) -> str:
    """The `images:` block, indented as the committed tree writes lists."""
    lines = ["images:"]
    for entry in images:
        dumped = yaml.safe_dump(entry, sort_keys=False, default_flow_style=False).splitlines()
        lines.append("  - " + dumped[0])
        lines.extend("    " + line for line in dumped[1:])
    return "\n".join(lines) + "\n"


def rewrite_images(text: str, doc: dict[str, Any], entry: dict[str, str]) -> str:
    """``text`` with its top-level `images:` block replaced (or appended) so that the entry with
    ``entry``'s name is ``entry``, other image entries kept. Raises VerifyError."""
    images = [i for i in doc.get("images") or [] if i.get("name") != entry["name"]] + [entry]
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if re.match(r"images:\s*(#.*)?$", line)]
    if len(starts) > 1:
        raise VerifyError("more than one top-level images: key")
    if starts:
        first = end = starts[0]
        end += 1
        # The block: indented lines, list items at column 0, and blank lines between them.
        while end < len(lines) and (lines[end][:1] in (" ", "\t", "-") or not lines[end].strip()):
            end += 1
        while end > first + 1 and not lines[end - 1].strip():
            end -= 1  # trailing blank lines belong to what follows
        new_text = "".join(lines[:first]) + render_images(images) + "".join(lines[end:])
    else:
        new_text = text.rstrip("\n") + "\n\n" + render_images(images)
    if yaml.safe_load(new_text) != {**doc, "images": images}:
        raise VerifyError("the rewritten kustomization would differ from the intended one beyond images:")
    return new_text


def model_pin_sha256(model_dir: Path) -> str:
    """SHA-256 of ``model_dir``/metadata.json: the deployment's pin, which covers every artefact
    (metadata.json pins their hashes, the input schema and the trust list).

    The bytes hashed are the bytes checked: every artefact metadata.json lists must be on disk
    with the hash it states, so the pin names a consistent folder. Raises InputError.
    """
    meta_path = model_dir / "metadata.json"
    try:
        raw = meta_path.read_bytes()
        artefacts = json.loads(raw)["artefacts"]
        for artefact in artefacts.values():
            path = model_dir / artefact["path"]
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
            if actual != artefact.get("sha256"):
                raise InputError(f"{path}: its SHA-256 is {actual} but {meta_path} pins {artefact.get('sha256')}; "
                                 "rebuild the model (`make model`) before pinning it")
    except FileNotFoundError as exc:
        raise InputError(f"{exc.filename} does not exist: run `make model` first (the image bakes that model), "
                         "or pass --model-sha256 <hex> (or none)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"cannot read the model in {model_dir}: {exc}") from exc
    return hashlib.sha256(raw).hexdigest()


def write_atomically(files: dict[Path, str]) -> None:
    """Write every file or none. Each goes to a temporary file beside it (same mode); only when all
    are written and flushed do they replace the originals, each with one rename, so a reader never
    sees half a file. Should a later rename fail, the files already renamed get their old content
    back. Raises OSError."""
    staged: list[tuple[Path, Path]] = []
    originals = {path: path.read_bytes() if path.exists() else None for path in files}
    done: list[Path] = []
    try:
        for path, text in files.items():
            staged.append((_stage(path, text.encode()), path))
        for tmp, path in staged:
            os.replace(tmp, path)
            done.append(path)
    except OSError:
        for path in done:
            old = originals[path]
            if old is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(_stage(path, old), path)
        raise
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def _stage(path: Path, data: bytes) -> Path:
    """``data`` in a new temporary file beside ``path``, flushed to disk, with ``path``'s mode."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def model_env_text(sha256: str) -> str:
    return ("# Merged into the twinserve-predict-config ConfigMap. Written by `make k8s-image`\n"
            "# (scripts/k8s_set_image.py); MODEL_SHA256 empty = the image's model/metadata.json pin applies.\n"
            f"{ENV_MODEL_SHA256}={sha256}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="k8s_set_image.py", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overlay", type=Path, help="overlay folder holding kustomization.yaml, e.g. k8s/overlays/dev")
    parser.add_argument("--image", required=True, metavar="REF",
                        help="registry/name:tag or registry/name@sha256:<digest> (prod: a digest)")
    parser.add_argument("--match", default=IMAGE_NAME, metavar="NAME",
                        help=f"image name the entry replaces in the resources (default: {IMAGE_NAME}, the "
                             "base's placeholder; an overlay on top of an overlay names what that one set)")
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument("--model-sha256", metavar="HEX|none",
                     help="MODEL_SHA256 to write; `none` writes it empty (metadata.json's pin applies)")
    pin.add_argument("--model-dir", type=Path, default=Path(os.environ.get("MODEL_DIR") or "model"),
                     help="model folder the image was built from; its metadata.json is hashed "
                          "(default: $MODEL_DIR, else model)")
    args = parser.parse_args(argv)
    try:
        kustomization = args.overlay / "kustomization.yaml"
        text, doc = load_kustomization(kustomization)
        ref = parse_image(args.image)
        old = current_entry(doc, args.match)
        if old is not None and "digest" in old and not ref.digest:
            raise InputError(f"{args.overlay} is pinned by digest and takes digests only: "
                             "pass --image name@sha256:<digest> (`podman push --digestfile` writes it)")
        if args.model_sha256 is not None:
            value = args.model_sha256.strip().lower()
            if value != "none" and not _SHA256.fullmatch(value):
                raise InputError(f"--model-sha256 must be 64 hex digits or none, not {args.model_sha256!r}")
            sha256, source = ("" if value == "none" else value), "given"
        else:
            sha256 = model_pin_sha256(args.model_dir)
            source = f"{args.model_dir / 'metadata.json'}"
        new_text = rewrite_images(text, doc, ref.images_entry(args.match))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except VerifyError as exc:
        print(f"error: {kustomization}: {exc}; nothing written", file=sys.stderr)
        return 1
    try:
        write_atomically({kustomization: new_text, args.overlay / MODEL_ENV_FILE: model_env_text(sha256)})
    except OSError as exc:
        print(f"error: cannot write {args.overlay}: {exc}; nothing changed", file=sys.stderr)
        return 1
    image = f"{ref.name}@{ref.digest}" if ref.digest else f"{ref.name}:{ref.tag}"
    print(f"{kustomization}: image {args.match} -> {image}")
    print(f"{args.overlay / MODEL_ENV_FILE}: {ENV_MODEL_SHA256}="
          + (f"{sha256} ({source})" if sha256 else "(empty: metadata.json's pin applies)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
