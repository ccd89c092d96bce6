"""Read an artefact and prove it is the one pinned, before anything deserialises it.

The pin is the SHA-256 in ``metadata.json`` or, when the deployment sets MODEL_SHA256, that
value instead (see :class:`twinserve.settings.Settings`). The bytes are hashed and then handed
on from memory, so the file cannot change between the check and the load.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from twinserve.errors import ModelIntegrityError, ModelLoadError, ModelNotFound, ModelPinMismatch

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def parse_sha256(value: str, name: str) -> str:
    """``value`` as 64 lower-case hex digits (``sha256sum`` output; upper case accepted).

    Raises ModelLoadError naming ``name`` (the setting it came from) when it is anything else,
    so a typo in a deployment's pin stops the start with a reason, not a hash mismatch.
    """
    normalised = value.strip().lower()
    if not _SHA256_HEX.fullmatch(normalised):
        raise ModelLoadError(f"{name} must be a SHA-256 as 64 hexadecimal digits, not {value!r}")
    return normalised


def read_verified(path: Path, expected_sha256: str, *, pinned_by_deployment: bool = False) -> bytes:
    """Return the file's bytes.

    Raises ModelNotFound when the file is missing, and on a mismatch ModelIntegrityError naming
    both hashes (ModelPinMismatch, a subclass, when the deployment's MODEL_SHA256 set the pin).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelNotFound(f"model artefact {path} is missing") from None
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        if pinned_by_deployment:
            raise ModelPinMismatch(str(path), expected_sha256, actual)
        raise ModelIntegrityError(str(path), expected_sha256, actual)
    return data
