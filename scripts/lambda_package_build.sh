#!/usr/bin/env bash
# Package twinserve's Lambda functions offline and check the result; called by `make package-lambda`.
#
# Steps (each timed): stage the code flat into <build>/service -> `osls package` there -> unzip into
# <build>/pkg and check the unzipped size -> cfn-lint and checkov on the generated CloudFormation
# template -> template invariants -> import smoke test in a clean Python 3.12, with each function's
# environment as the template sets it. Any failing step stops the script with a non-zero exit.
#
# Environment (the Makefile sets all of them):
#   PY              Python of the repo's .venv (runs scripts/lambda_package_tool.py)
#   TOOLS_BIN       folder with cfn-lint and checkov
#   LAMBDA_PYTHON   CPython 3.12 (Lambda's runtime version)
#   LAMBDA_BUILD    build folder (default build/lambda)
#   LAMBDA_STAGE, LAMBDA_REGION   stage and region written into the template
#   LAMBDA_ARCH, LAMBDA_MEMORY_MB optional; serverless.yml's params hold the defaults
#   LAMBDA_PARAMS   optional "key=value ..." words, each passed as osls --param=key=value
#   MODEL_DIR       the registered model to package (default model/); its backend picks the requirements
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${PY:?set PY to the repo .venv python}"
: "${TOOLS_BIN:?set TOOLS_BIN to the folder with cfn-lint and checkov}"
: "${LAMBDA_PYTHON:?set LAMBDA_PYTHON to a Python 3.12 interpreter}"
stage="${LAMBDA_STAGE:-dev}"
region="${LAMBDA_REGION:-eu-west-1}"
build="${LAMBDA_BUILD:-$repo/build/lambda}"
[[ "$build" == /* ]] || build="$repo/$build"
service="$build/service"
template="$service/.serverless/cloudformation-template-update-stack.json"

params=()
arch="x86_64"
read -r -a extra_params <<< "${LAMBDA_PARAMS:-}"
for param in "${extra_params[@]}"; do
  [[ "$param" =~ ^[A-Za-z0-9_]+=[^[:space:]]*$ ]] || { echo "LAMBDA_PARAMS: '$param' is not key=value" >&2; exit 2; }
  params+=("--param=$param")
  [[ "$param" == arch=* ]] && arch="${param#arch=}"
done
if [[ -n "${LAMBDA_ARCH:-}" ]]; then
  params+=("--param=arch=$LAMBDA_ARCH")
  arch="$LAMBDA_ARCH"
fi
[[ -n "${LAMBDA_MEMORY_MB:-}" ]] && params+=("--param=memoryMb=$LAMBDA_MEMORY_MB")

declare -a timings=()
step() {  # step NAME COMMAND... : run, time, and remember the duration
  local name="$1" started
  shift
  printf '\n== %s\n' "$name"
  started=$EPOCHREALTIME
  "$@"
  timings+=("$(awk -v n="$name" -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%-26s %7.1f s", n, b - a }')")
}

osls_package() {
  # The framework resolves plugins from the staged folder's node_modules (a symlink to ours).
  # SLS_TELEMETRY_DISABLED: no usage reporting; nothing here may call out.
  (cd "$service" && SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off \
    LAMBDA_PYTHON_BIN="$repo/scripts/lambda_package_python.sh" \
    "$repo/node_modules/.bin/osls" package --stage "$stage" --region "$region" "${params[@]}")
}

link_plugins() {
  # serverless.yml lists the repo's local plugin; in the staged folder it stays idle.
  ln -sfn "$repo/.serverless_plugins" "$service/.serverless_plugins"
}

write_smoke_environment() {
  # The smoke test reads each function's environment from a serverless.yml-shaped file; give it
  # the values the generated template sets (params resolved), not serverless.yml's ${param:...}.
  "$PY" - "$template" "$build/smoke-environment.yml" <<'PYEOF'
import json, sys
resources = json.load(open(sys.argv[1]))["Resources"]
names = {"PredictLambdaFunction": "predict", "PredictDashwsgiLambdaFunction": "predict-wsgi"}
lines = ["# Written by lambda_package_build.sh from the generated template.", "functions:"]
for logical_id, function in names.items():
    variables = resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    lines += [f"  {function}:", "    environment:"]
    lines += [f"      {key}: {json.dumps(str(value))}" for key, value in sorted(variables.items())]
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PYEOF
}

run_checkov() {
  # --skip-download: no network here; skips are written as Metadata in serverless.yml.
  # --quiet still prints the "Passed / Failed / Skipped" summary; exit 1 on any failed check.
  BC_SKIP_MAPPING=TRUE "$TOOLS_BIN/checkov" --framework cloudformation --file "$template" \
    --skip-download --compact --quiet
}

run_smoke() {
  local host_arch
  host_arch="$(uname -m)"
  if [[ "$arch" == "arm64" && "$host_arch" != "aarch64" ]]; then
    echo "SKIPPED: the package holds aarch64 wheels; this $host_arch machine cannot import them." >&2
    return 0
  fi
  write_smoke_environment
  "$PY" "$repo/scripts/lambda_package_tool.py" smoke --python "$LAMBDA_PYTHON" \
    --pkg "$build/pkg" --service-yml "$build/smoke-environment.yml"
}

mkdir -p "$build"
# One build at a time: several `make` runs in one work tree (make test, bench, deploy) would
# otherwise overwrite each other's staging folder mid-package.
exec 9>"$build/.lock"
if ! flock -n 9; then
  echo "another Lambda package build is running; waiting for it..." >&2
  flock 9
fi
total_started=$EPOCHREALTIME
step "stage" "$PY" "$repo/scripts/lambda_package_tool.py" stage --out "$service" --python "$LAMBDA_PYTHON" \
  --model "${MODEL_DIR:-$repo/model}"
link_plugins
step "osls package" osls_package
step "unzip + size" "$PY" "$repo/scripts/lambda_package_tool.py" size \
  --zip "$service/.serverless/twinserve.zip" --pkg "$build/pkg" --json-out "$build/package-size.json"
# W3005 (redundant DependsOn) is in the framework's generated HTTP API resources, not ours.
step "cfn-lint" "$TOOLS_BIN/cfn-lint" --non-zero-exit-code error --ignore-checks W3005 -- "$template"
step "checkov" run_checkov
step "template invariants" "$PY" "$repo/scripts/lambda_package_tool.py" check-template \
  --template "$template" --arch "$arch"
step "import smoke" run_smoke

printf '\n== timings (stage %s, region %s)\n' "$stage" "$region"
printf '  %s\n' "${timings[@]}"
awk -v a="$total_started" -v b="$EPOCHREALTIME" 'BEGIN { printf "  %-26s %7.1f s\n", "total", b - a }'
