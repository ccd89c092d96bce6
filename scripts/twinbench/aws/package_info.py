"""The size of the Lambda package the benchmark ran (the report states it beside the cold start it explains).

``make package-lambda`` writes ``build/lambda/package-size.json`` next to the unzipped package
(``build/lambda/pkg``); that file is preferred (it also knows the zip size). Without it — another
``--lambda-package`` folder — the unzipped size is counted here by walking the folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["LAMBDA_UNZIPPED_LIMIT_BYTES", "MIB", "package_info"]

MIB = 2**20
# Lambda's limit on a function's unzipped deployment package (with its layers).
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * MIB
TOP_N = 8


def _walk(folder: Path) -> tuple[int, int, dict[str, int]]:
    total = files = 0
    top: dict[str, int] = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            try:
                size = path.lstat().st_size
            except OSError:
                continue
            total += size
            files += 1
            first = path.relative_to(folder).parts[0]
            top[first] = top.get(first, 0) + size
    return total, files, top


def package_info(package_dir: Path) -> dict | None:
    """Size facts of the unzipped package at ``package_dir``, or ``None`` when there is none.

    Keys: ``path``, ``source`` (``package-size.json`` or ``walked``), ``unzipped_bytes``,
    ``unzipped_mib``, ``zip_bytes`` / ``zip_mib`` (``None`` when unknown), ``files``,
    ``largest`` (top-level entries, bytes, biggest first), ``lambda_limit_mib``, ``target_mib``.
    """
    package_dir = Path(package_dir)
    if not package_dir.is_dir():
        return None
    recorded: dict = {}
    size_file = package_dir.parent / "package-size.json"
    if package_dir.name == "pkg" and size_file.is_file():
        try:
            recorded = json.loads(size_file.read_text())
        except (OSError, ValueError):
            recorded = {}
    if recorded.get("unzipped_bytes"):
        source = str(size_file)
        unzipped = int(recorded["unzipped_bytes"])
        files = recorded.get("files")
        top = {k: int(v) for k, v in (recorded.get("top_level_bytes") or {}).items()}
    else:
        source = "walked"
        unzipped, files, top = _walk(package_dir)
    zip_bytes = recorded.get("zip_bytes")
    largest = dict(sorted(top.items(), key=lambda kv: kv[1], reverse=True)[:TOP_N])
    return {
        "path": str(package_dir),
        "source": source,
        "unzipped_bytes": unzipped,
        "unzipped_mib": round(unzipped / MIB, 1),
        "zip_bytes": int(zip_bytes) if zip_bytes else None,
        "zip_mib": round(int(zip_bytes) / MIB, 1) if zip_bytes else None,
        "files": files,
        "largest": largest,
        "lambda_limit_mib": round((recorded.get("lambda_limit_bytes") or LAMBDA_UNZIPPED_LIMIT_BYTES) / MIB, 1),
        "target_mib": recorded.get("target_mib"),
    }
