"""The bench depends on the product, never the reverse: checked on every import statement's AST.

The product is the prediction core (``shared/``), the wrappers (``services/``), the deploy and packaging
scripts (``scripts/*.py``; the ``collect_*.py`` entry points are the bench's collectors), the
support both sides share (``scripts/twinserve_support``), the root conftest and the product's tests.
None of them imports ``twinbench``, inside a function or not; the product's runtime (``shared/``,
``services/``) imports no test support either. The heredoc the deploy script runs is Python too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from twinserve_support.paths import REPO

BENCH = "twinbench"
SUPPORT = "twinserve_support"
PRODUCT_TEST_DIRS = ("core", "wrappers", "protocols", "container", "client", "k8s", "image", "serverless",
                     "deploy", "models")
# Product tests may run the local Lambda (the only way to serve the package as Lambda does, locally):
# the emulator's room and the target that starts it.
TESTS_MAY_IMPORT = ("twinbench.local_lambda", "twinbench.targets.local_lambda_target")


def _python_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _imported_modules(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, module) for every ``import x`` / ``from x import y`` (absolute ones; relative ones stay inside)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _violations(files: list[Path], forbidden: str, allowed: tuple[str, ...] = ()) -> list[str]:
    problems = []
    for path in files:
        for line, module in _imported_modules(path.read_text(encoding="utf-8"), str(path)):
            if _within(module, forbidden) and not any(_within(module, ok) for ok in allowed):
                problems.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    return problems


def _heredocs(script: Path) -> list[str]:
    """The bodies of the heredocs a shell script feeds to a Python (``"$venv_python" - <<'PY'``)."""
    pattern = r"python[^\n]*<<-?'?(\w+)'?[^\n]*\n(.*?)\n\1\n"
    return [body for _, body in re.findall(pattern, script.read_text(encoding="utf-8"), flags=re.S)]


def product_sources() -> list[Path]:
    scripts = [p for p in (REPO / "scripts").glob("*.py") if not p.name.startswith("collect_")]
    return _python_files(REPO / "shared", REPO / "services", REPO / "scripts" / SUPPORT) + sorted(scripts)


def test_the_product_imports_nothing_from_the_bench():
    files = product_sources() + [REPO / "tests" / "conftest.py"]
    assert len(files) > 30, "the product's files were not found"
    assert _violations(files, BENCH) == []


def test_the_product_tests_reach_the_bench_only_to_run_the_local_lambda():
    files = _python_files(*(REPO / "tests" / d for d in PRODUCT_TEST_DIRS))
    assert len(files) > 30, "the product's tests were not found"
    assert _violations(files, BENCH, allowed=TESTS_MAY_IMPORT) == []


def test_the_products_runtime_imports_no_test_support():
    assert _violations(_python_files(REPO / "shared", REPO / "services"), SUPPORT) == []


def test_the_deploy_scripts_python_imports_nothing_from_the_bench():
    bodies = {script.name: _heredocs(script) for script in sorted((REPO / "scripts").glob("*.sh"))}
    assert bodies["deploy_lambda.sh"], "the deploy script's Python heredocs were not found"
    problems = [f"{name}: imports {module}" for name, found in bodies.items() for body in found
                for _, module in _imported_modules(body, name) if _within(module, BENCH)]
    assert problems == []


def test_the_check_sees_a_bench_import_wherever_it_is():
    source = "import os\n\ndef f():\n    from twinbench.measure import stats\n    import twinbench.cli\n"
    assert [m for _, m in _imported_modules(source, "x.py") if _within(m, BENCH)] == [
        "twinbench.measure", "twinbench.cli"]
    assert not _within("twinbenchmark", BENCH)
