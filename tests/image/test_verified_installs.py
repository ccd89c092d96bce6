"""Nothing is installed that was not verified: every requirements file the project installs pins
each distribution exactly and carries the SHA-256 of its files, every `pip install` / `pip
download` of the project runs with --require-hashes, and the image's base is named by digest.
(The hashes themselves are written by requirements/hash_locks.py; pip checks them at install.)
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from twinserve_support.paths import REPO

DOCKERFILE = REPO / "services" / "predict-container" / "Dockerfile"
MAKEFILES = [REPO / "Makefile", *sorted((REPO / "mk").glob("*.mk"))]
PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][A-Za-z0-9.+!-]*")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
PIP_RUN = re.compile(r"\bpip\b.*?\b(install|download)\b")


def logical_lines(path: Path) -> list[str]:
    """Lines with backslash continuations joined (as pip, make and the Dockerfile read them)."""
    return re.sub(r"\\\n", " ", path.read_text()).splitlines()


def make_variables() -> dict[str, str]:
    variables: dict[str, str] = {}
    for path in MAKEFILES:
        for line in logical_lines(path):
            match = re.match(r"^([A-Z0-9_]+)\s*[:?]?=\s*(\S+)\s*$", line)
            if match:
                variables.setdefault(*match.groups())
    return variables


def pip_commands() -> list[tuple[str, str]]:
    """(file, command) for every pip install/download in the Makefiles and the Dockerfile."""
    found = []
    for path in [*MAKEFILES, DOCKERFILE]:
        for line in logical_lines(path):
            if not line.lstrip().lstrip("@").startswith("#") and PIP_RUN.search(line):
                found.append((path.name, " ".join(line.split())))
    return found


def installed_requirement_files() -> set[Path]:
    """Every file pip is pointed at, plus the locks, the services' and the baselines' files."""
    variables = make_variables()
    files = set((REPO / "requirements").glob("*.lock"))
    files |= set((REPO / "services").glob("*/requirements*.txt"))
    files |= set((REPO / "baselines").glob("*/requirements*"))
    for _, command in pip_commands():
        for ref in re.findall(r"(?:-r|--requirement)[ =](\S+)", command):
            ref = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), ref)
            # The Dockerfile's copy in /tmp, and make image's build/image/requirements.txt, are the
            # services' files (concatenated for the model's backend), which are checked themselves.
            if not ref.startswith(("/", "build/")):
                files.add(REPO / ref)
    return files


def test_the_installed_files_are_found():
    names = {str(path.relative_to(REPO)) for path in installed_requirement_files()}
    assert {"requirements/dev.lock", "requirements/tools.lock", "requirements/lambda-runtime.txt",
            "services/predict-container/requirements.txt", "services/predict-lambda/requirements.txt"} <= names
    assert all((REPO / name).is_file() for name in names), names


@pytest.mark.parametrize("path", sorted(installed_requirement_files()), ids=lambda p: str(p.relative_to(REPO)))
def test_every_pin_is_exact_and_hashed(path: Path):
    requirements = [line.strip() for line in logical_lines(path) if line.strip() and not line.strip().startswith("#")]
    assert requirements, f"{path.name}: no requirement"
    for line in requirements:
        pin, *options = line.split()
        assert PIN.fullmatch(pin), f"{path.name}: not an exact pin: {line}"
        assert options and all(HASH.fullmatch(option) for option in options), f"{path.name}: {pin} has no --hash"


def test_the_hash_writer_covers_every_installed_file():
    spec = importlib.util.spec_from_file_location("hash_locks", REPO / "requirements" / "hash_locks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    covered = {REPO / name for name in module.FILES}
    assert installed_requirement_files() <= covered


def test_every_pip_install_requires_hashes():
    commands = pip_commands()
    assert len(commands) >= 8, commands  # the venvs, the image's wheels and the image's install
    for where, command in commands:
        if re.search(r"(^| )-e \.( |$)", command):
            # The project itself: nothing to hash, so nothing may be fetched for it either (its
            # build backend is a hashed pin of dev.lock).
            assert "--no-build-isolation" in command and "--no-index" in command, f"{where}: {command}"
        else:
            assert "--require-hashes" in command, f"{where}: {command}"
            assert re.search(r"(-r|--requirement)[ =]", command), f"{where}: a pin outside a hashed file: {command}"


def test_base_image_is_pinned_by_digest():
    froms = [line.split()[1] for line in logical_lines(DOCKERFILE) if line.startswith("FROM ")]
    assert re.fullmatch(r"docker\.io/library/python:3\.12[0-9.]*-slim-bookworm@sha256:[0-9a-f]{64}", froms[0])
