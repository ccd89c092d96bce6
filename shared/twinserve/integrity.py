"""Read an artefact and prove it is the one the metadata pins, before anything deserialises it.

The bytes are hashed and then handed on from memory, so the file cannot change between the
check and the load.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from twinserve.errors import ModelIntegrityError, ModelNotFound


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def read_verified(path: Path, expected_sha256: str) -> bytes:
    """Return the file's bytes; raise ModelIntegrityError naming both hashes on mismatch."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelNotFound(f"model artefact {path} is missing") from None
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise ModelIntegrityError(str(path), expected_sha256, actual)
    return data
