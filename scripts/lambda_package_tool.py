"""Build and check twinserve's Lambda package: stage the code flat, measure the zip, check the
template, smoke-test the handlers in a clean Python.

Why: Lambda wants the code flat at the zip root within 250 MiB, and only an import in a bare
interpreter proves the zip carries what the handlers need. Subcommands and exit codes:
:data:`HELP` (the ``--help`` text).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from twinserve.cli_parser import OneLineParser
from twinserve.headers import COLD_HEADER, INIT_HEADER
from twinserve.samples import request_bodies
from twinserve_support.sample_events import EVENTS_DIR, event_for

MIB = 1024 * 1024
# Lambda's quota is "250 MB" and enforced as 262,144,000 bytes (= 250 MiB) unzipped.
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000
# The size the shipped package is held to (unzipped), well under Lambda's 250 MiB limit.
PACKAGE_TARGET_MIB = 120
# The header of build/lambda/package-size.json: a document the bench's report reads, so it carries the
# bench's format name and version (tests/results validates what `size` writes against that schema).
PACKAGE_SIZE_HEADER = {"format": "twinbench.package-size", "version": 2}

from twinserve_support.paths import REPO  # noqa: E402

HELP = """Build and check twinserve's Lambda package: stage the code flat, measure the zip, smoke-test it.

Subcommands (run in this order by `make package-lambda`):

  stage   copy serverless.yml, requirements, handlers, the core, the Flask app and the model into a
          flat service folder (Lambda wants ``twinserve/``, ``handler.py``, ``model/`` at the zip
          root, but the repo keeps them under shared/, services/ and model/), and byte-compile the
          copied code for Python 3.12 as unchecked-hash .pyc.
  size    unzip the packaged zip into an empty folder, print its unzipped size (MiB) per top-level
          entry, and exit 1 above Lambda's limit (250 MiB unzipped; function + layers).
  check-template
          invariants of the generated CloudFormation template that the linters do not enforce:
          no IAM statement grants a bare "*" action or resource (nor "service:*"), every function
          runs python3.12 on the expected architecture, and both functions exist.
  smoke   in a clean Python 3.12 (``-I -S``: no site-packages, no environment, nothing on sys.path
          but the stdlib and the unzipped package) import each handler and answer real-shaped HTTP
          API v2 events for /predict and /health; exit 1 on any wrong answer.

Exit status: 0 when every check passed, 1 when a check failed, 2 on bad usage or input (one line:
--zip not a zip archive or empty, --pkg or --json-out in the way, a template that is missing, not
UTF-8 or not a JSON CloudFormation template, a package without a registered model, an unreadable
event or serverless.yml, a --python that cannot run).
"""
"""The ``--help`` text: what it does, step by step, and its exit codes."""

LAMBDA_SRC = "services/predict-lambda"
# The handler modules Lambda imports by name (serverless.yml `handler:`); every other top-level
# module of services/predict-lambda/ is copied too, since the handlers import them.
HANDLER_FILES = ("handler.py", "wsgi_handler.py")
# source (relative to the repo) -> destination (relative to the staged service root)
STAGE_ITEMS: tuple[tuple[str, str], ...] = (
    ("serverless.yml", "serverless.yml"),
    (f"{LAMBDA_SRC}/requirements.txt", "requirements.txt"),  # replaced per backend (see model_backend)
    ("shared/twinserve", "twinserve"),
    ("services/predict-container/twinserve_flask", "twinserve_flask"),
)
# The core's tooling (training, the `twinserve` CLI) is not serving code: it stays out of the zip,
# as .dockerignore keeps it out of the image.
TOOLING_MODULES = ("cli.py", "training.py", "registration.py", "schema_infer.py", "onnx_compile.py", "client")
# The Lambda's dependencies per serving backend (both hashed): ONNX Runtime alone, or scikit-learn
# with scipy, pandas and skops for a model that has no ONNX form equal to it.
REQUIREMENTS = {"onnxruntime": "requirements.txt", "scikit-learn": "requirements-sklearn.txt"}
_BACKEND_MARKS = {"onnxruntime": "# onnx-only", "scikit-learn": "# sklearn-only"}


def model_backend(model_dir: Path) -> str:
    """What serves the model on Lambda: ONNX Runtime when it has an ONNX form, else scikit-learn."""
    metadata = json.loads((model_dir / "metadata.json").read_text())
    return "onnxruntime" if metadata["artefacts"].get("serving") else "scikit-learn"


def serverless_yml_for(text: str, backend: str) -> str:
    """serverless.yml with the lines marked for the other backend dropped (its slim patterns)."""
    other = [mark for name, mark in _BACKEND_MARKS.items() if name != backend]
    return "\n".join(line for line in text.splitlines() if not any(line.rstrip().endswith(m) for m in other)) + "\n"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", "*.joblib", *TOOLING_MODULES)


class UsageError(Exception):
    """Bad usage or input: ``main`` prints the message as one line and exits 2."""


def _read_json(path: Path, what: str) -> object:
    """The JSON document at ``path``; UsageError (one line) if it is missing, not UTF-8 or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{what} {path} not found") from None
    except OSError as exc:
        raise UsageError(f"{what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:
        raise UsageError(f"{what} {path} is not JSON: {exc}") from None


def _registered_model(pkg: Path) -> dict:
    """The package's model metadata; UsageError when the package carries no registered model."""
    if not pkg.is_dir():
        raise UsageError(f"--pkg {pkg} is not a folder (unzip the package with the size subcommand)")
    metadata = _read_json(pkg / "model" / "metadata.json", "the package's model metadata")
    if not (isinstance(metadata, dict) and isinstance(metadata.get("name"), str)
            and isinstance(metadata.get("artefacts"), dict)):
        raise UsageError(f"{pkg / 'model' / 'metadata.json'} is not a registered model's metadata (no name/artefacts)")
    return metadata


def _fail(message: str) -> int:
    print(f"FAIL: {message}", file=sys.stderr)
    return 1


def cmd_stage(args: argparse.Namespace) -> int:
    out: Path = args.out.resolve()
    # --handlers: stand-in handlers and requirements for experiments.
    lambda_src = args.handlers.resolve() if args.handlers is not None else REPO / LAMBDA_SRC
    if not (args.model / "metadata.json").exists():
        return _fail(f"{args.model}/metadata.json not found; run `make model` (or `make model-import`) first")
    backend = model_backend(args.model)
    sources = [(REPO / src, dst) for src, dst in STAGE_ITEMS] + [(args.model.resolve(), "model")]
    sources[1] = (REPO / LAMBDA_SRC / REQUIREMENTS[backend], "requirements.txt")
    if args.handlers is not None:
        sources[1] = (lambda_src / "requirements.txt", "requirements.txt")
    modules = sorted({p.name for p in lambda_src.glob("*.py")} | set(HANDLER_FILES))
    sources += [(lambda_src / name, name) for name in modules]
    missing = []
    resolved = []
    for src, dst in sources:
        if not src.exists():
            missing.append(str(src))
        resolved.append((src, dst))
    if missing:
        return _fail("missing inputs: " + ", ".join(missing))

    # A fresh folder each time: a file deleted in the repo must not linger in the package.
    # `.serverless/` is the framework's output and is rebuilt by `osls package` anyway.
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for src, dst in resolved:
        target = out / dst
        if src.is_dir():
            shutil.copytree(src, target, ignore=IGNORED)
        else:
            shutil.copy2(src, target)
    (out / "serverless.yml").write_text(serverless_yml_for((out / "serverless.yml").read_text(), backend))
    print(f"model {args.model.resolve()}: served by {backend} on Lambda "
          f"({REQUIREMENTS[backend] if args.handlers is None else 'stand-in requirements'})")
    # The framework resolves plugins from <service>/node_modules.
    (out / "node_modules").symlink_to(REPO / "node_modules", target_is_directory=True)

    if args.python:
        # Same reason as in lambda_package_python.sh: zip entries get a fixed 1980 timestamp and
        # /var/task is read-only, so only hash-based .pyc avoid recompiling at every cold start.
        code_dirs = [str(out / d) for d in ("twinserve", "twinserve_flask")]
        code_files = [str(out / name) for name in modules]
        subprocess.run(
            [args.python, "-I", "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
             *code_dirs, *code_files],
            check=True,
        )
    n_files = sum(1 for p in out.rglob("*") if p.is_file() and "node_modules" not in p.parts)
    print(f"staged {n_files} files into {out}")
    return 0


def _zip_uncompressed_bytes(zip_path: Path) -> tuple[int, dict[str, int], int]:
    with zipfile.ZipFile(zip_path) as archive:
        per_top: dict[str, int] = {}
        total = 0
        n = 0
        for info in archive.infolist():
            if info.is_dir():
                continue
            top = info.filename.split("/", 1)[0]
            per_top[top] = per_top.get(top, 0) + info.file_size
            total += info.file_size
            n += 1
    return total, per_top, n


def cmd_size(args: argparse.Namespace) -> int:
    zip_path: Path = args.zip
    if not zip_path.exists():
        return _fail(f"{zip_path} not found; run `osls package` first")
    pkg: Path = args.pkg
    if not zipfile.is_zipfile(zip_path):
        raise UsageError(f"--zip {zip_path} is not a zip archive")
    if pkg.exists() and not pkg.is_dir():
        raise UsageError(f"--pkg {pkg} is a file; it must be a folder to unzip into (it is emptied)")
    if args.top < 0:
        raise UsageError(f"--top must be >= 0, not {args.top}")
    if args.json_out is not None and args.json_out.is_dir():
        raise UsageError(f"--json-out {args.json_out} is a folder; give a file name")
    total, per_top, n_files = _zip_uncompressed_bytes(zip_path)
    if not per_top:
        raise UsageError(f"--zip {zip_path} holds no files")
    if pkg.exists():
        shutil.rmtree(pkg)
    pkg.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(pkg)
        # zipfile drops permission bits; restore them (shared libraries, scripts).
        for info in archive.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(pkg / info.filename, mode)
    on_disk = sum(p.stat().st_size for p in pkg.rglob("*") if p.is_file())
    if on_disk != total:
        return _fail(f"unzipped {on_disk} bytes on disk but the zip lists {total}")

    print(f"package: {zip_path} ({zip_path.stat().st_size / MIB:.1f} MiB zipped, {n_files} files)")
    print(f"unzipped into {pkg}")
    width = max(len(k) for k in per_top)
    for name, size in sorted(per_top.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {name:<{width}}  {size / MIB:8.2f} MiB")
    rest = len(per_top) - args.top
    if rest > 0:
        print(f"  ... and {rest} more top-level entries")
    total_mib = total / MIB
    limit_mib = LAMBDA_UNZIPPED_LIMIT_BYTES / MIB
    # The shipped (ONNX) package is held to a target well under the limit; a scikit-learn package
    # carries scipy and pandas and is held to Lambda's limit alone.
    sklearn = (pkg / "model" / "metadata.json").exists() and model_backend(pkg / "model") == "scikit-learn"
    target_mib = limit_mib if sklearn else PACKAGE_TARGET_MIB
    verdict = "meets" if total_mib <= target_mib else "MISSES"
    print(f"unzipped size: {total_mib:.1f} MiB ({total:,} bytes); Lambda limit {limit_mib:.0f} MiB; "
          f"{verdict} the {target_mib:.0f} MiB target")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({
            **PACKAGE_SIZE_HEADER,
            "zip_bytes": zip_path.stat().st_size,
            "unzipped_bytes": total,
            "files": n_files,
            "top_level_bytes": dict(sorted(per_top.items(), key=lambda kv: -kv[1])),
            "lambda_limit_bytes": LAMBDA_UNZIPPED_LIMIT_BYTES,
            "target_mib": target_mib,
            "meets_target": total_mib <= target_mib,
        }, indent=2) + "\n")
    if total > LAMBDA_UNZIPPED_LIMIT_BYTES:
        return _fail(f"unzipped package is {total_mib:.1f} MiB, above Lambda's {limit_mib:.0f} MiB: serve this model "
                     "from the container (make image), or re-register it in a form ONNX can compile, which needs no "
                     "scikit-learn in the package")
    return 0


EXPECTED_FUNCTIONS = ("PredictLambdaFunction", "PredictDashwsgiLambdaFunction")


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def template_problems(template: dict, arch: str = "x86_64") -> list[str]:
    """What is wrong with a generated template; empty when it passes. Pure, for the tests."""

    def positive_number(value: object) -> bool:
        """A number > 0, or its text (a --param value reaches the template as a string)."""
        try:
            return not isinstance(value, bool) and float(value) > 0  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False

    problems: list[str] = []
    resources = template.get("Resources", {})
    for name, resource in resources.items():
        kind = resource.get("Type", "")
        props = resource.get("Properties", {})
        documents = []
        if kind == "AWS::IAM::Role":
            documents = [p.get("PolicyDocument", {}) for p in props.get("Policies", [])]
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props.get("PolicyDocument", {})]
        for document in documents:
            for statement in _as_list(document.get("Statement", [])):
                if statement.get("Effect") != "Allow":
                    continue
                for action in _as_list(statement.get("Action", [])):
                    if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                        problems.append(f"{name}: IAM action {action!r} is a wildcard")
                if "NotAction" in statement or "NotResource" in statement:
                    problems.append(f"{name}: IAM NotAction/NotResource grants everything else")
                for resource_arn in _as_list(statement.get("Resource", [])):
                    if resource_arn == "*":
                        problems.append(f"{name}: IAM resource '*'")
        if kind == "AWS::Lambda::Function":
            if props.get("Runtime") != "python3.12":
                problems.append(f"{name}: runtime {props.get('Runtime')!r}, expected python3.12")
            if props.get("Architectures", ["x86_64"]) != [arch]:
                problems.append(f"{name}: architectures {props.get('Architectures')!r}, expected [{arch!r}]")
            # Uncapped, one flood takes the account's whole concurrency (and the bill with it).
            if not positive_number(props.get("ReservedConcurrentExecutions")):
                problems.append(f"{name}: no ReservedConcurrentExecutions (serverless.yml's reservedConcurrency)")
    for name in EXPECTED_FUNCTIONS:
        if resources.get(name, {}).get("Type") != "AWS::Lambda::Function":
            problems.append(f"{name}: missing from the template")
    stages = {name: r.get("Properties", {}) for name, r in resources.items() if r.get("Type") == "AWS::ApiGatewayV2::Stage"}
    if not stages:
        problems.append("no HTTP API stage (AWS::ApiGatewayV2::Stage) to carry the route throttling")
    for name, props in stages.items():
        route_settings = props.get("DefaultRouteSettings", {})
        for key in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
            if not positive_number(route_settings.get(key)):
                problems.append(f"{name}: DefaultRouteSettings.{key} missing or not > 0 (serverless.yml's throttle params)")
    return problems


def cmd_check_template(args: argparse.Namespace) -> int:
    template = _read_json(args.template, "--template")
    if not (isinstance(template, dict) and isinstance(template.get("Resources"), dict)
            and all(isinstance(r, dict) for r in template["Resources"].values())):
        raise UsageError(f"--template {args.template} is not a CloudFormation template (no Resources object)")
    try:
        problems = template_problems(template, args.arch)
    except (AttributeError, TypeError) as exc:  # a resource whose properties have another shape
        raise UsageError(f"--template {args.template}: a resource of an unexpected shape ({exc})") from None
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    if problems:
        return 1
    n_functions = sum(1 for r in template["Resources"].values() if r.get("Type") == "AWS::Lambda::Function")
    print(f"template: {n_functions} functions on python3.12/{args.arch}; no wildcard IAM action or resource")
    return 0


# Runs inside the clean interpreter, with the package folder as the working directory and as the
# only entry on sys.path besides the stdlib. Prints one JSON line per check.
_SMOKE_CHILD = r"""
import json, sys, time, os
t_start = time.perf_counter()
pkg = os.getcwd()
sys.path.insert(0, pkg)
which, events_json = sys.argv[1], sys.argv[2]
events = json.loads(events_json)
foreign = [p for p in sys.path if p != pkg and ("site-packages" in p or "dist-packages" in p)]
mod = __import__(which)
import_ms = (time.perf_counter() - t_start) * 1000
results = []
for name, event in events:
    t0 = time.perf_counter()
    response = mod.handler(event, None)
    results.append({"name": name, "ms": (time.perf_counter() - t0) * 1000, "response": response})

def _stale_or_missing_pyc():
    import importlib.util
    bad = []
    for m in list(sys.modules.values()):
        f = getattr(m, "__file__", None) or ""
        if not f.startswith(pkg + os.sep) or not f.endswith(".py"):
            continue
        cached = importlib.util.cache_from_source(f)
        try:
            with open(cached, "rb") as fh:
                header = fh.read(16)
        except OSError:
            bad.append(os.path.relpath(f, pkg))
            continue
        flags = int.from_bytes(header[4:8], "little")
        if header[:4] != importlib.util.MAGIC_NUMBER or flags != 0b01:
            bad.append(os.path.relpath(f, pkg))
    return bad

print(json.dumps({
    "handler": which,
    "import_ms": import_ms,
    "foreign_paths": foreign,
    "results": results,
    "flask_loaded": "flask" in sys.modules,
    "sklearn_loaded": "sklearn" in sys.modules,
    "modules_without_valid_pyc": _stale_or_missing_pyc(),
}))
"""


def _function_env(service_yml: Path, function: str) -> dict[str, str]:
    """provider.environment + the function's environment, read without a YAML library.

    Only flat `KEY: value` lines under the two `environment:` keys are supported, which is all
    serverless.yml uses; the test suite checks the same file with a real YAML parser.
    """
    env: dict[str, str] = {}
    section: str | None = None
    current_function: str | None = None
    env_indent: int | None = None
    for line in service_yml.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            section = stripped.rstrip(":")
            current_function = None
            env_indent = None
            continue
        if section == "functions" and indent == 2:
            current_function = stripped.rstrip(":")
            env_indent = None
            continue
        if stripped == "environment:":
            wanted = section == "provider" or (section == "functions" and current_function == function)
            env_indent = indent if wanted else None
            continue
        if env_indent is not None:
            if indent <= env_indent:
                env_indent = None
                continue
            key, _, value = stripped.partition(":")
            env[key.strip()] = value.strip().strip("\"'")
    return env


def cmd_smoke(args: argparse.Namespace) -> int:
    pkg: Path = args.pkg.resolve()
    metadata = _registered_model(pkg)
    backend = model_backend(pkg / "model")
    model_name = metadata["name"]
    if not args.service_yml.is_file():
        raise UsageError(f"--service-yml {args.service_yml} not found")
    if shutil.which(args.python) is None:
        raise UsageError(f"--python {args.python} is not an executable")
    # The model's own registered rows, as the bench sends them.
    predict_body = request_bodies(pkg / "model")[0]
    batch_body = request_bodies(pkg / "model", rows_per_request=3)[0]
    template = _read_json(args.event, "--event")
    if not isinstance(template, dict):
        raise UsageError(f"--event {args.event} is not an HTTP API v2 event (a JSON object)")

    def http_api_v2_event(method: str, path: str, body: bytes | None = None) -> dict:
        return event_for(template, method, path, body, "application/json" if body is not None else None)

    checks = {
        "handler": ("predict", [
            ("POST /predict", http_api_v2_event("POST", "/predict", predict_body)),
            ("POST /predict batch", http_api_v2_event("POST", "/predict", batch_body)),
            ("GET /health", http_api_v2_event("GET", "/health")),
        ]),
        "wsgi_handler": ("predict-wsgi", [
            ("POST /wsgi/predict", http_api_v2_event("POST", "/wsgi/predict", predict_body)),
            ("GET /wsgi/health", http_api_v2_event("GET", "/wsgi/health")),
        ]),
    }
    failures: list[str] = []
    for module, (function, events) in checks.items():
        # Lambda gives a function little more than this; nothing from our shell leaks in.
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": ":UTC",
               "LAMBDA_TASK_ROOT": str(pkg), "AWS_LAMBDA_FUNCTION_NAME": f"twinserve-smoke-{function}",
               "AWS_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}
        env |= _function_env(args.service_yml, function)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [args.python, "-I", "-S", "-c", _SMOKE_CHILD, module, json.dumps(events)],
            cwd=pkg, env=env, capture_output=True, text=True, timeout=120,
        )
        wall_ms = (time.perf_counter() - t0) * 1000
        if proc.returncode != 0:
            failures.append(f"{module}: interpreter exited {proc.returncode}\n{proc.stderr[-4000:]}")
            continue
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{module}.handler ({function}): import {report['import_ms']:.0f} ms, process {wall_ms:.0f} ms "
              f"(no pyc cache from a previous run)")
        if report["foreign_paths"]:
            failures.append(f"{module}: site-packages on sys.path: {report['foreign_paths']}")
        # serverless-python-requirements drops the zip root's __pycache__/ of what it injects, so
        # single-file modules at the root (serverless_wsgi.py) cannot keep a .pyc: noted, not failed.
        own_root = {p.name for p in (REPO / LAMBDA_SRC).glob("*.py")} | set(HANDLER_FILES)
        no_pyc = report["modules_without_valid_pyc"]
        injected_root = [m for m in no_pyc if os.sep not in m and m not in own_root]
        if injected_root:
            print(f"  note: compiled at each cold start (root modules injected without .pyc): {', '.join(injected_root)}")
        no_pyc = [m for m in no_pyc if m not in injected_root]
        if no_pyc:
            shown = ", ".join(no_pyc[:8])
            failures.append(f"{module}: {len(no_pyc)} imported modules would be "
                            f"compiled at every cold start (no unchecked-hash .pyc): {shown}")
        if report["sklearn_loaded"] and backend == "onnxruntime":
            failures.append(f"{module}: imported scikit-learn, but this model is served through ONNX Runtime")
        if module == "handler" and report["flask_loaded"]:
            failures.append("handler: the native handler imported Flask")
        for index, result in enumerate(report["results"]):
            name, response = result["name"], result["response"]
            status = response.get("statusCode")
            headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
            body_text = response.get("body") or ""
            try:
                body = json.loads(body_text)
            except ValueError:
                body = None
            line = f"  {name:<22} -> {status} in {result['ms']:.2f} ms"
            if module == "handler":
                line += f"  cold={headers.get(COLD_HEADER)} init_ms={headers.get(INIT_HEADER)}"
            print(line + f"  {body_text[:100]}")
            if status != 200 or not isinstance(body, dict):
                failures.append(f"{module} {name}: status {status}, body {body_text[:300]!r}")
                continue
            if "predict" in name:
                served_name = (body.get("model") or {}).get("name")
                if served_name != model_name:
                    failures.append(f"{module} {name}: served model {served_name!r}, not the packaged {model_name!r}")
                expected_rows = 3 if "batch" in name else 1
                predictions = body.get("predictions")
                if not isinstance(predictions, list) or len(predictions) != expected_rows:
                    failures.append(f"{module} {name}: expected {expected_rows} predictions, got {body_text[:300]!r}")
            if module == "handler":
                expected_cold = "true" if index == 0 else "false"
                if headers.get(COLD_HEADER) != expected_cold:
                    failures.append(f"handler {name}: x-twinserve-cold={headers.get(COLD_HEADER)!r}, "
                                    f"expected {expected_cold!r}")
                try:
                    float(headers.get(INIT_HEADER, ""))
                except ValueError:
                    failures.append(f"handler {name}: x-twinserve-init-ms missing or not a number")
    if failures:
        for failure in failures:
            print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    print("import smoke: both handlers answered every event from the unzipped package alone")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="lambda_package_tool.py", description=HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    stage = sub.add_parser("stage", help="copy the code flat into a service folder for `osls package`")
    stage.add_argument("--out", type=Path, default=REPO / "build/lambda/service", help="staged service folder")
    stage.add_argument("--model", type=Path, default=REPO / "model", help="trained model folder (from make model)")
    stage.add_argument("--handlers", type=Path, default=None,
                       help="take handler.py, wsgi_handler.py and requirements.txt from this folder instead")
    stage.add_argument("--python", default=None,
                       help="Python 3.12 used to precompile the staged code (unchecked-hash .pyc); omit to skip")
    stage.set_defaults(func=cmd_stage)

    size = sub.add_parser("size", help="unzip the package, print its unzipped size, fail above Lambda's limit")
    size.add_argument("--zip", type=Path, default=REPO / "build/lambda/service/.serverless/twinserve.zip")
    size.add_argument("--pkg", type=Path, default=REPO / "build/lambda/pkg", help="folder to unzip into (emptied)")
    size.add_argument("--top", type=int, default=12, help="how many top-level entries to list")
    size.add_argument("--json-out", type=Path, default=None, help="also write the sizes as JSON here")
    size.set_defaults(func=cmd_size)

    check = sub.add_parser("check-template", help="IAM without wildcards, python3.12, both functions")
    check.add_argument("--template", type=Path,
                       default=REPO / "build/lambda/service/.serverless/cloudformation-template-update-stack.json")
    check.add_argument("--arch", default="x86_64", choices=("x86_64", "arm64"))
    check.set_defaults(func=cmd_check_template)

    smoke = sub.add_parser("smoke", help="import both handlers in a clean Python 3.12 and answer HTTP API events")
    smoke.add_argument("--pkg", type=Path, default=REPO / "build/lambda/pkg")
    smoke.add_argument("--python", required=True, help="the Python 3.12 interpreter (Lambda's runtime version)")
    smoke.add_argument("--event", type=Path, default=EVENTS_DIR / "http_api_v2.json",
                       help="committed HTTP API v2 event; method, path and body are replaced per check")
    smoke.add_argument("--service-yml", type=Path, default=REPO / "serverless.yml",
                       help="read the functions' environment variables from here")
    smoke.set_defaults(func=cmd_smoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
