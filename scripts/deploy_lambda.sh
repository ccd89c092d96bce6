#!/usr/bin/env bash
# Deploy twinserve's Lambda functions (predict, predict-wsgi) with the pinned Serverless Framework (osls).
#
#   scripts/deploy_lambda.sh --stage dev --region eu-west-1 [--arch x86_64|arm64] [--memory-mb 1024]
#                            [--param key=value ...] [--account-concurrency 1000]
#   scripts/deploy_lambda.sh --dry-run ...    preflight + `osls package` with every offline check; no AWS call
#   scripts/deploy_lambda.sh --preflight ...  only the preflight checks
#   scripts/deploy_lambda.sh --remove --stage dev --region eu-west-1   tear the stack down (`osls remove`)
#
# --params-file FILE reads serverless.yml params from a JSON file (`twinbench recommend --write DIR`
# writes DIR/lambda-params.json): an object {"params": {"memoryMb": 1769, ...}} or a flat
# {"memoryMb": 1769, ...}; each goes through the same checks as --param, and a --param given on
# the command line wins over the file.
# --param passes a serverless.yml param to osls (repeatable; also --param=key=value), e.g.
# --param="provisionedConcurrency=2", --param reservedConcurrency=10, --param throttleRateLimit=500,
# --param functionUrl=true, --param provisionedSchedule=1/1/.../4 (24 hourly counts, UTC, with
# provisionedConcurrency = the smallest). --arch and --memory-mb are short for --param=arch=... and
# --param=memoryMb=....
#
# Caps (docs/deploy-lambda.md): reservedConcurrency and the HTTP API's route throttling are always
# set (serverless.yml's defaults unless --param raises them). Both functions reserve
# reservedConcurrency, and AWS keeps 100 of the account's concurrency unreserved, so
# 2 x reservedConcurrency must be <= the account limit - 100. --account-concurrency N is that
# limit (default 1000, Lambda's default quota; `aws lambda get-account-settings` shows yours).
#
# Model pin: --param modelSha256 is filled with the SHA-256 of $MODEL_DIR/metadata.json (default
# model/), the file that pins every artefact's hash; the functions refuse a model folder whose
# metadata.json differs. --param modelSha256=HEX pins another; --param modelSha256=none deploys
# without a pin.
#
# What it does:
#   1. preflight: node >= 20, npm, make and CPython 3.12 present; stage (a-z, 0-9, '-') and region
#      (like eu-west-1) well-formed, else one line and exit 2; region in botocore's list of Lambda
#      regions; every param one that serverless.yml defines, arch and memory in range, the caps
#      within the account's limits; the model pin; AWS credentials present (not needed for
#      --dry-run and --preflight).
#   2. `npx osls deploy` at the repository root (`osls package` for --dry-run, `osls remove` for
#      --remove). Its local plugin (.serverless_plugins/twinserve-package.js) runs
#      `make package-lambda` (offline package, size <= 250 MiB, cfn-lint, checkov, import smoke;
#      incremental), ships exactly that zip (SHA-256 checked) and refuses a template that differs
#      from the checked one. osls prints the HTTP API endpoints (and Function URLs when enabled).
# Exit status: 0 deployed, removed or dry run passed; 1 a step failed; 2 bad usage or failed preflight.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_python="$repo/.venv/bin/python"

stage="${LAMBDA_STAGE:-dev}"
region="${LAMBDA_REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-1}}}"
params=()
params_file=""
mode="deploy"
account_concurrency=""
model_dir="${MODEL_DIR:-model}"
[[ "$model_dir" == /* ]] || model_dir="$repo/$model_dir"

usage() {
  # The comment block at the top of this file, up to the first line that is not a comment.
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
}

die() {  # die STATUS MESSAGE
  echo "deploy_lambda: $2" >&2
  exit "$1"
}

need_value() {  # need_value OPTION VALUE: a missing value (or the next option) is a usage error
  [[ -n "$2" && "$2" != --* ]] || die 2 "$1 needs a value (see --help)"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) need_value "$1" "${2:-}"; stage="$2"; shift 2 ;;
    --region) need_value "$1" "${2:-}"; region="$2"; shift 2 ;;
    --arch) need_value "$1" "${2:-}"; params+=("arch=$2"); shift 2 ;;
    --memory-mb) need_value "$1" "${2:-}"; params+=("memoryMb=$2"); shift 2 ;;
    --param) need_value "$1" "${2:-}"; params+=("$2"); shift 2 ;;
    --params-file) need_value "$1" "${2:-}"; params_file="$2"; shift 2 ;;
    --account-concurrency) need_value "$1" "${2:-}"; account_concurrency="$2"; shift 2 ;;
    --stage=*|--region=*|--arch=*|--memory-mb=*|--param=*|--params-file=*|--account-concurrency=*)
      # --option=value is the same as --option value.
      set -- "${1%%=*}" "${1#*=}" "${@:2}"
      ;;
    --dry-run) mode="dry-run"; shift ;;
    --preflight) mode="preflight"; shift ;;
    --remove) mode="remove"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die 2 "unknown argument: $1 (see --help)" ;;
  esac
done

# Stage and region reach osls and a make command line: nothing but these shapes gets that far.
[[ "$stage" =~ ^[a-z0-9-]{1,16}$ ]] \
  || die 2 "stage '$stage' must be 1-16 characters of a-z, 0-9 and '-'"
[[ "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$ ]] \
  || die 2 "region '$region' is not an AWS region name like eu-west-1"
[[ -z "$account_concurrency" || "$account_concurrency" =~ ^[1-9][0-9]{0,6}$ ]] \
  || die 2 "--account-concurrency '$account_concurrency' must be a whole number >= 1"

# --params-file: its params go first, so a --param on the command line (later) wins.
if [[ -n "$params_file" ]]; then
  [[ -f "$params_file" ]] || die 2 "--params-file '$params_file' is not a readable file"
  file_params="$("$venv_python" - "$params_file" <<'PY'
import json
import sys

try:
    doc = json.load(open(sys.argv[1], encoding="utf-8"))
except (OSError, ValueError) as exc:
    print(f"--params-file {sys.argv[1]}: not JSON ({exc})")
    sys.exit(2)
params = doc.get("params", doc) if isinstance(doc, dict) else None
if not isinstance(params, dict) or not all(isinstance(v, (str, int, float, bool)) for v in params.values()):
    print(f"--params-file {sys.argv[1]}: expected an object of param: scalar (or {{\"params\": {{...}}}})")
    sys.exit(2)
for key, value in params.items():
    if key.startswith("_"):
        continue  # comments and provenance
    print(f"{key}={str(value).lower() if isinstance(value, bool) else value}")
PY
)" || die 2 "$file_params"
  file_list=()
  [[ -z "$file_params" ]] || mapfile -t file_list <<<"$file_params"
  merged=()
  for file_param in "${file_list[@]}"; do  # a key also given with --param is taken from --param
    overridden=""
    for param in "${params[@]}"; do
      [[ "${param%%=*}" != "${file_param%%=*}" ]] || overridden=1
    done
    [[ -n "$overridden" ]] || merged+=("$file_param")
  done
  params=("${merged[@]}" "${params[@]}")
fi

# The model pin: an explicit modelSha256 param wins; `none` drops it (serverless.yml's empty
# default); without one, preflight takes the SHA-256 of $MODEL_DIR/metadata.json.
pin=""
for i in "${!params[@]}"; do
  if [[ "${params[$i]}" == modelSha256=* ]]; then
    pin="${params[$i]#modelSha256=}"
    unset 'params[i]'
  fi
done
params=("${params[@]}")
[[ -z "$pin" || "$pin" == "none" || "${pin,,}" =~ ^[0-9a-f]{64}$ ]] \
  || die 2 "modelSha256 '$pin' must be 64 hex digits or none"
pin="${pin,,}"

have_aws_credentials() {
  # Presence only: the deploy itself proves they work. Covers env keys, profiles (incl. SSO),
  # web identity (CI OIDC) and container/instance role endpoints.
  [[ -n "${AWS_ACCESS_KEY_ID:-}" && -n "${AWS_SECRET_ACCESS_KEY:-}" ]] && return 0
  [[ -n "${AWS_PROFILE:-}" ]] && return 0
  [[ -n "${AWS_WEB_IDENTITY_TOKEN_FILE:-}" ]] && return 0
  [[ -n "${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI:-}" ]] && return 0
  [[ -s "${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" ]] && return 0
  [[ -s "${AWS_CONFIG_FILE:-$HOME/.aws/config}" ]] && return 0
  return 1
}

# Prints one problem per line: region not in botocore's list of Lambda regions (every partition),
# a param serverless.yml does not define, an arch / memory value out of range, or caps the account
# cannot grant.
check_region_and_params() {
  # The region list is botocore's data: no profile or credentials are read (a profile that only
  # the deploy's environment defines must not break it).
  env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_CONFIG_FILE \
    "$venv_python" - "$repo/serverless.yml" "$region" "$stage" "$account_concurrency" "$@" <<'PYEOF'
import sys
from pathlib import Path

import botocore.session
import yaml

service_yml, region, stage, account, params = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
sys.path.insert(0, str(Path(service_yml).resolve().parent / "scripts"))
from twinserve_support.lambda_caps import ACCOUNT_CONCURRENCY_DEFAULT, check_reserved_concurrency, deployed_caps  # noqa: E402
session = botocore.session.get_session()
regions = sorted({r for p in session.get_available_partitions()
                  for r in session.get_available_regions("lambda", partition_name=p)})
if region not in regions:
    print(f"region '{region}' is not an AWS region with Lambda in botocore's list (e.g. eu-west-1, us-east-1)")
known = yaml.safe_load(open(service_yml))["params"]["default"]
for param in params:
    key, _, value = param.partition("=")
    if key not in known:
        print(f"param '{key}' is not defined in serverless.yml (known: {', '.join(sorted(known))})")
    elif key == "arch" and value not in ("x86_64", "arm64"):
        print(f"arch '{value}' must be x86_64 or arm64")
    elif key == "memoryMb" and not (value.isdigit() and 128 <= int(value) <= 10240):
        print(f"memory '{value}' must be 128..10240 MB")
# The caps as this stage and these params resolve them, for every function (each reserves its own).
config = yaml.safe_load(open(service_yml))
overrides = dict(p.partition("=")[::2] for p in params if p.partition("=")[0] in known)
try:
    caps = deployed_caps(stage, overrides, path=Path(service_yml))
    check_reserved_concurrency(caps.reserved_concurrency, len(config["functions"]),
                               int(account) if account else ACCOUNT_CONCURRENCY_DEFAULT)
    resolved = {**known, **(config["params"].get(stage) or {}), **overrides}
    provisioned = str(resolved["provisionedConcurrency"])
    if not provisioned.isdigit():
        print(f"provisionedConcurrency '{provisioned}' must be a whole number >= 0")
    elif caps.reserved_concurrency is not None and int(provisioned) > caps.reserved_concurrency:
        print(f"provisionedConcurrency {provisioned} exceeds reservedConcurrency {caps.reserved_concurrency}")
    # provisionedSchedule: none, or 24 counts joined by '/' (hour 00 UTC first), each 1..reserved;
    # its scalable targets need the alias that provisionedConcurrency >= 1 creates.
    schedule = str(resolved.get("provisionedSchedule", "none"))
    if schedule != "none":
        hours = schedule.split("/")
        limit = caps.reserved_concurrency
        if len(hours) != 24 or not all(h.isdigit() and int(h) >= 1 for h in hours):
            print(f"provisionedSchedule '{schedule}' must be none or 24 whole numbers >= 1 joined by '/' (hour 00 UTC first)")
        elif limit is not None and max(map(int, hours)) > limit:
            print(f"provisionedSchedule hour {max(map(int, hours))} exceeds reservedConcurrency {limit}")
        elif provisioned.isdigit() and int(provisioned) < 1:
            print("provisionedSchedule needs provisionedConcurrency >= 1 (the alias it scales; give the smallest hour)")
        if str(resolved.get("snapStart")).lower() == "true":
            print("provisionedSchedule cannot be combined with snapStart (AWS does not allow provisioned concurrency with it)")
    # frontDoor records the door callers use; the Function URL exists only with functionUrl=true.
    door = str(resolved.get("frontDoor", "http-api"))
    if door not in ("http-api", "function-url"):
        print(f"frontDoor '{door}' must be http-api or function-url (serverless.yml deploys no REST API)")
    elif door == "function-url" and str(resolved.get("functionUrl")).lower() != "true":
        print("frontDoor function-url needs functionUrl=true (serverless.yml adds the Function URL only then)")
except ValueError as exc:
    print(exc)
PYEOF
}

preflight() {
  local problems=()
  for tool in node npm make; do
    command -v "$tool" >/dev/null 2>&1 || problems+=("'$tool' is not on PATH (needs Node 20 + npm, GNU make)")
  done
  if command -v node >/dev/null 2>&1; then
    local node_major
    node_major="$(node -p 'process.versions.node.split(".")[0]')"
    (( node_major >= 20 )) || problems+=("Node $node_major found; osls 4.3.1 needs Node >= 20.19")
  fi
  [[ -f "$repo/package-lock.json" ]] || problems+=("package-lock.json missing: osls and plugins are pinned there")
  local param
  for param in "${params[@]}"; do
    [[ "$param" =~ ^[A-Za-z0-9_]+=[^[:space:]\'\"\\]*$ ]] \
      || problems+=("param '$param' must be key=value without spaces or quotes")
  done
  if [[ "$mode" != "remove" ]]; then
    local python_problem
    if ! python_problem="$("$repo/scripts/lambda_package_python.sh" --which 2>&1 >/dev/null)"; then
      problems+=("${python_problem#lambda_package_python.sh: }")
    fi
  fi
  if [[ ! -x "$venv_python" ]] && command -v make >/dev/null 2>&1; then
    echo "preflight: creating .venv (make setup) to check the region against botocore" >&2
    make -s -C "$repo" setup >&2 || problems+=("make setup failed: cannot check the region")
  fi
  if [[ -x "$venv_python" ]]; then
    local line
    while IFS= read -r line; do
      [[ -n "$line" ]] && problems+=("$line")
    done < <(check_region_and_params "${params[@]}" || echo "could not read serverless.yml params or botocore's regions")
  elif ! command -v make >/dev/null 2>&1; then
    problems+=("no .venv to check the region against botocore's list (needs make to create it)")
  fi

  if [[ -z "$pin" && "$mode" != "remove" ]]; then
    if [[ ! -f "$model_dir/metadata.json" ]]; then
      problems+=("no $model_dir/metadata.json to pin: run 'make model' (or set MODEL_DIR), or pass --param modelSha256=HEX|none")
    elif ! command -v sha256sum >/dev/null 2>&1; then
      problems+=("'sha256sum' is not on PATH (coreutils): cannot pin the model")
    else
      pin="$(sha256sum "$model_dir/metadata.json")"
      pin="${pin%% *}"
    fi
  fi
  [[ -z "$pin" || "$pin" == "none" ]] || params+=("modelSha256=$pin")

  if have_aws_credentials; then
    echo "preflight: AWS credentials present (not validated until deploy)"
  elif [[ "$mode" == "deploy" || "$mode" == "remove" ]]; then
    problems+=("no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or configure ~/.aws")
  else
    echo "preflight: no AWS credentials found (fine for --$mode; a real deploy needs them)"
  fi

  if (( ${#problems[@]} > 0 )); then
    printf 'preflight: %s\n' "${problems[@]}" >&2
    die 2 "preflight failed (${#problems[@]} problem(s))"
  fi
  echo "preflight: ok (stage=$stage region=$region params=${params[*]:-none} mode=$mode)"
  [[ "$pin" != "none" ]] || echo "preflight: no model pin (modelSha256=none): the functions trust metadata.json as found"
}

preflight
[[ "$mode" == "preflight" ]] && exit 0

osls_args=(--stage "$stage" --region "$region")
for param in "${params[@]}"; do
  osls_args+=("--param=$param")
done
# No usage reporting from the CLI; nothing but AWS (or AWS_ENDPOINT_URL) may be called.
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off

cd "$repo"
# The pinned osls and plugins (npm ci from package-lock.json, only when they changed).
make -s -C "$repo" node_modules/.stamp || die 1 "npm ci failed"

run_osls() {  # run_osls COMMAND: osls at the repository root; a failure exits 1
  local status=0
  npx --no-install osls "$1" "${osls_args[@]}" || status=$?
  (( status == 0 )) || die 1 "osls $1 failed (exit $status)"
}

case "$mode" in
  dry-run)
    run_osls package
    echo "dry run: package and checks passed; nothing deployed. A real run executes at the repository root:"
    echo "  npx osls deploy ${osls_args[*]}"
    ;;
  remove)
    run_osls remove
    echo "removed: stack twinserve-$stage in $region (functions, log groups, role, HTTP API, deployment bucket)"
    ;;
  deploy)
    run_osls deploy
    ;;
esac
