"""Write the `--hash=sha256:` lines of every pip requirements file the project installs.

    python requirements/hash_locks.py            rewrite every file below in place
    python requirements/hash_locks.py --check    exit 1 if a file would change (no writes)

Each file keeps its comments and its exact pins (`name==version`, edited by hand or from
`pip freeze`); this script only (re)writes the hashes under each pin. A pin gets the SHA-256 of
every wheel of that version on the package index that one of the file's target interpreters can
install (CPython X.Y, glibc-based Linux on x86_64 and aarch64, up to the target's glibc), and
the sdist only where a target has no wheel. The hashes are the ones the index publishes (PEP 691
JSON, the page pip itself reads); pip recomputes each downloaded file's SHA-256 and refuses a
mismatch, so `pip install --require-hashes -r FILE` for each target is the proof (run after any
change: see the comments at the top of each file).

Needs `packaging` (in .venv); reads https://pypi.org/simple/ (PIP_INDEX_URL overrides).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
ARCHES = ("x86_64", "aarch64")


@dataclass(frozen=True)
class Target:
    """Who installs a file: CPython `python` on glibc Linux <= `glibc`, both architectures."""

    python: tuple[int, int]
    glibc: tuple[int, int]

    def tags(self) -> set[Tag]:
        platforms = []
        for arch in ARCHES:
            platforms += [f"manylinux_2_{minor}_{arch}" for minor in range(self.glibc[1], 4, -1)]
            platforms += [f"manylinux2014_{arch}"]
            if arch == "x86_64":
                platforms += ["manylinux2010_x86_64", "manylinux1_x86_64"]
        interpreter = f"cp{self.python[0]}{self.python[1]}"
        return set(cpython_tags(self.python, platforms=platforms)) | set(
            compatible_tags(self.python, interpreter, platforms=platforms)
        )


BOOKWORM = (2, 36)  # Debian 12: the dev machines, CI and python:3.12-slim-bookworm
AL2023 = (2, 34)  # Lambda's python3.12 runtime (Amazon Linux 2023)
FILES: dict[str, Target] = {
    "requirements/pip.lock": Target((3, 11), BOOKWORM),
    "requirements/dev.lock": Target((3, 11), BOOKWORM),
    "requirements/tools.lock": Target((3, 11), BOOKWORM),
    "requirements/fuzz.lock": Target((3, 11), BOOKWORM),
    "requirements/mlserver.lock": Target((3, 11), BOOKWORM),
    "requirements/lambda-runtime.txt": Target((3, 12), BOOKWORM),
    "services/predict-container/requirements.txt": Target((3, 12), BOOKWORM),
    "services/predict-container/requirements-sklearn.txt": Target((3, 12), BOOKWORM),
    "services/predict-lambda/requirements.txt": Target((3, 12), AL2023),
    "services/predict-lambda/requirements-sklearn.txt": Target((3, 12), AL2023),
}

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;#]+)\s*(?:\\)?\s*$")
_pages: dict[str, list[dict]] = {}


def index_files(name: str) -> list[dict]:
    """The index's file list for one project (cached for the run)."""
    key = canonicalize_name(name)
    if key not in _pages:
        request = urllib.request.Request(f"{INDEX}/{key}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            _pages[key] = json.load(response)["files"]
    return _pages[key]


def hashes_for(name: str, version: str, target: Target) -> list[str]:
    """SHA-256 of the wheels of name==version that the target can install (sdist if none)."""
    wanted, pinned = target.tags(), Version(version)
    wheels, sdists, arches_covered = [], [], set()
    for entry in index_files(name):
        filename = entry["filename"]
        if filename.endswith(".whl"):
            try:
                _, file_version, _, file_tags = parse_wheel_filename(filename)
            except ValueError:  # ancient uploads with names the wheel spec does not allow
                continue
            if file_version == pinned and file_tags & wanted:
                wheels.append(entry["hashes"]["sha256"])
                platforms = {tag.platform for tag in file_tags & wanted}
                arches_covered |= {arch for arch in ARCHES if any(p.endswith(arch) or p == "any" for p in platforms)}
        elif filename.endswith((".tar.gz", ".zip")):
            try:
                _, file_version = parse_sdist_filename(filename)
            except ValueError:
                continue
            if file_version == pinned:
                sdists.append(entry["hashes"]["sha256"])
    if arches_covered != set(ARCHES):
        if not sdists:
            raise SystemExit(f"{name}=={version}: no wheel for {set(ARCHES) - arches_covered} and no sdist")
        print(f"  {name}=={version}: no wheel for {sorted(set(ARCHES) - arches_covered)}, sdist hashed", file=sys.stderr)
        wheels += sdists
    if not wheels:
        raise SystemExit(f"{name}=={version}: nothing on {INDEX} for {target}")
    return sorted(set(wheels))


def rewrite(text: str, target: Target) -> str:
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("--hash="):
            continue  # regenerated below its pin
        match = PIN.match(stripped)
        if not match:
            out.append(line)
            continue
        name, version = match.groups()
        digests = hashes_for(name, version, target)
        out.append(f"{name}=={version} \\")
        out += [f"    --hash=sha256:{digest}" + (" \\" if i < len(digests) - 1 else "") for i, digest in enumerate(digests)]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report files whose hashes would change")
    parser.add_argument("files", nargs="*", help="a subset of the files (paths from the repository root)")
    args = parser.parse_args()
    stale = 0
    for rel in args.files or FILES:
        path = ROOT / rel
        new = rewrite(path.read_text(), FILES[rel])
        if new != path.read_text():
            stale += 1
            print(f"{'stale' if args.check else 'rewrote'}: {rel}")
            if not args.check:
                path.write_text(new)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
