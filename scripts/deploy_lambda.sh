#!/usr/bin/env bash
# Deploy twinserve's Lambda functions (predict, predict-wsgi) with the pinned Serverless Framework (osls).
#
#   scripts/deploy_lambda.sh --stage dev --region eu-west-1 [--arch x86_64|arm64] [--memory-mb 1024]
#   scripts/deploy_lambda.sh --dry-run ...    preflight + package + every offline check; no AWS call
#   scripts/deploy_lambda.sh --preflight ...  only the preflight checks
#
# What it does:
#   1. preflight: node/npm/make/Python 3.12 present, stage and region well-formed, and (unless
#      --dry-run/--preflight without credentials) AWS credentials present.
#   2. `make package-lambda`: offline package, size <= 250 MiB, cfn-lint, checkov, import smoke.
#   3. `osls deploy --package`: deploys exactly the package that step 2 checked, then prints the
#      HTTP API endpoints (and Function URLs when enabled).
# Exit status: 0 deployed (or dry run passed), 1 a step failed, 2 bad usage or failed preflight.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
service_dir="$repo/build/lambda/service"

stage="${LAMBDA_STAGE:-dev}"
region="${LAMBDA_REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-1}}}"
arch=""
memory_mb=""
mode="deploy"

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {  # die STATUS MESSAGE
  echo "deploy_lambda: $2" >&2
  exit "$1"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) stage="${2:?--stage needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
    --memory-mb) memory_mb="${2:?--memory-mb needs a value}"; shift 2 ;;
    --dry-run) mode="dry-run"; shift ;;
    --preflight) mode="preflight"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown argument: $1" ;;
  esac
done

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
  [[ "$stage" =~ ^[A-Za-z0-9-]{1,16}$ ]] || problems+=("stage '$stage' must be 1-16 letters, digits or '-'")
  [[ "$region" =~ ^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$ ]] || problems+=("region '$region' is not an AWS region name (e.g. eu-west-1)")
  [[ -z "$arch" || "$arch" == "x86_64" || "$arch" == "arm64" ]] || problems+=("arch '$arch' must be x86_64 or arm64")
  [[ -z "$memory_mb" || ( "$memory_mb" =~ ^[0-9]+$ && "$memory_mb" -ge 128 && "$memory_mb" -le 10240 ) ]] \
    || problems+=("memory '$memory_mb' must be 128..10240 MB")

  if have_aws_credentials; then
    echo "preflight: AWS credentials present (not validated until deploy)"
  elif [[ "$mode" == "deploy" ]]; then
    problems+=("no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or configure ~/.aws")
  else
    echo "preflight: no AWS credentials found (fine for --$mode; a real deploy needs them)"
  fi

  if (( ${#problems[@]} > 0 )); then
    printf 'preflight: %s\n' "${problems[@]}" >&2
    die 2 "preflight failed (${#problems[@]} problem(s))"
  fi
  echo "preflight: ok (stage=$stage region=$region arch=${arch:-default} memory=${memory_mb:-default} mode=$mode)"
}

osls_params=()
[[ -n "$arch" ]] && osls_params+=("--param=arch=$arch")
[[ -n "$memory_mb" ]] && osls_params+=("--param=memoryMb=$memory_mb")

preflight
[[ "$mode" == "preflight" ]] && exit 0

# Package + size + cfn-lint + checkov + import smoke (incremental: reused while inputs are unchanged).
make -C "$repo" package-lambda LAMBDA_STAGE="$stage" LAMBDA_REGION="$region" \
  LAMBDA_ARCH="$arch" LAMBDA_MEMORY_MB="$memory_mb"

if [[ "$mode" == "dry-run" ]]; then
  echo "dry run: package and checks passed; nothing deployed. A real run would execute:"
  echo "  (cd build/lambda/service && npx osls deploy --stage $stage --region $region --package .serverless ${osls_params[*]})"
  exit 0
fi

cd "$service_dir"
npx --no-install osls deploy --stage "$stage" --region "$region" --package .serverless "${osls_params[@]}"
echo
echo "Endpoints (stage $stage, region $region):"
npx --no-install osls info --stage "$stage" --region "$region" "${osls_params[@]}" \
  | sed -n '/^endpoints:/,/^functions:/p' | grep -v '^functions:' || true
