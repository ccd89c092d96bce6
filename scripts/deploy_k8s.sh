#!/usr/bin/env bash
# Build, push and deploy the twinserve container to Kubernetes with kustomize.
#
# The committed tree under k8s/ is never edited: the image (pinned by digest after the
# push) is set in a throwaway overlay under $BUILD_DIR that points at k8s/overlays/<env>,
# the same `images:` stanza `kustomize edit set image` would write. (kubectl bundles
# kustomize's build, not its `edit` command, so no extra tool is needed.)
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/deploy_k8s.sh [--env dev|prod] [--tag TAG] [--image LOCAL_IMAGE] [--dry-run]

Deploys the predictor to the current kube context in five steps:
  1. render k8s/overlays/<env> with the image set, validate every object's schema
  2. build the image from services/predict-container/Dockerfile (podman or docker)
  3. push it to $REGISTRY and pin the manifests to the pushed digest
  4. kubectl apply -k, then kubectl rollout status
  5. print the Service address

Options:
  --env ENV          overlay under k8s/overlays (default: dev)
  --tag TAG          image tag (default: git commit, plus -dirty for local changes)
  --image IMAGE      push this already-built local image (e.g. from `make image`)
                     instead of building one
  --dry-run          step 1 only: render and validate; needs no registry, no
                     container engine and no cluster
  -h, --help         this text

Environment:
  REGISTRY           registry and repository prefix, e.g. ghcr.io/acme (required
                     except with --dry-run); the image is $REGISTRY/twinserve-predict
  KUBE_CONTEXT       kube context to use (default: the current context)
  CONTAINER_ENGINE   podman or docker (default: podman if installed, else docker)
  KUBECTL            kubectl binary (default: kubectl on PATH)
  PYTHON             Python that can import kubernetes_validate (default: python3;
                     `make setup-tools` provides one in .venv-tools/bin)
  K8S_VERSION        Kubernetes version for schema validation (default: 1.37.0)
  ROLLOUT_TIMEOUT    how long to wait for the rollout (default: 300s)
  BUILD_DIR          where the throwaway overlay and renders go (default: build/k8s-deploy)

Exit codes: 0 deployed (or dry run passed), 1 a step failed, 2 preflight or usage error.
EOF
}

readonly IMAGE_NAME=twinserve-predict
readonly DEPLOYMENT=twinserve-predict
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$1" >&2; exit "${2:-1}"; }
preflight_fail() { die "preflight: $1" 2; }

env_name=dev
tag=""
local_image=""
dry_run=false
while (($#)); do
  case "$1" in
    --env) env_name=${2:?--env needs a value}; shift 2 ;;
    --env=*) env_name=${1#*=}; shift ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --image) local_image=${2:?--image needs a value}; shift 2 ;;
    --image=*) local_image=${1#*=}; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" 2 ;;
  esac
done

KUBECTL=${KUBECTL:-kubectl}
PYTHON=${PYTHON:-python3}
K8S_VERSION=${K8S_VERSION:-1.37.0}
ROLLOUT_TIMEOUT=${ROLLOUT_TIMEOUT:-300s}
BUILD_DIR=${BUILD_DIR:-$REPO_ROOT/build/k8s-deploy}
overlay_dir=$REPO_ROOT/k8s/overlays/$env_name
dockerfile=$REPO_ROOT/services/predict-container/Dockerfile
validator=$REPO_ROOT/scripts/k8s_validate.py

# ---------------------------------------------------------------- preflight (no side effects)
if ! [[ $env_name =~ ^[a-z0-9-]+$ && -f $overlay_dir/kustomization.yaml ]]; then
  overlays=("$REPO_ROOT"/k8s/overlays/*/)
  overlays=("${overlays[@]%/}")
  preflight_fail "no overlay '$env_name'; choose one of: ${overlays[*]##*/}"
fi
command -v "$KUBECTL" >/dev/null ||
  preflight_fail "kubectl not found (KUBECTL=$KUBECTL); run 'make setup-tools' and put .venv-tools/bin on PATH"
"$PYTHON" -c 'import kubernetes_validate, yaml' 2>/dev/null ||
  preflight_fail "$PYTHON cannot import kubernetes_validate; run 'make setup-tools' and set PYTHON=.venv-tools/bin/python"

if [[ -z $tag ]]; then
  tag=$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null) ||
    preflight_fail "cannot derive a tag from git; pass --tag"
  [[ -z $(git -C "$REPO_ROOT" status --porcelain 2>/dev/null) ]] || tag=$tag-dirty
fi
[[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || preflight_fail "'$tag' is not a valid image tag"

kube=("$KUBECTL")
if ! $dry_run; then
  [[ -n ${REGISTRY:-} ]] ||
    preflight_fail "REGISTRY is not set (e.g. REGISTRY=ghcr.io/acme); use --dry-run to only render and validate"
  [[ -n $local_image || -f $dockerfile ]] || preflight_fail "no Dockerfile at ${dockerfile#"$REPO_ROOT"/}"
  if [[ -z ${CONTAINER_ENGINE:-} ]]; then
    if command -v podman >/dev/null; then CONTAINER_ENGINE=podman
    elif command -v docker >/dev/null; then CONTAINER_ENGINE=docker
    else preflight_fail "neither podman nor docker found; install one or set CONTAINER_ENGINE"
    fi
  fi
  command -v "$CONTAINER_ENGINE" >/dev/null || preflight_fail "CONTAINER_ENGINE=$CONTAINER_ENGINE not found"
  if [[ -n ${KUBE_CONTEXT:-} ]]; then
    kube+=(--context "$KUBE_CONTEXT")
  else
    KUBE_CONTEXT=$("$KUBECTL" config current-context 2>/dev/null) ||
      preflight_fail "no current kube context; set one with 'kubectl config use-context' or KUBE_CONTEXT"
  fi
  "${kube[@]}" version --request-timeout=10s >/dev/null 2>&1 ||
    preflight_fail "cluster of context '$KUBE_CONTEXT' is not reachable (kubectl version failed)"
fi

# ---------------------------------------------------------------- 1. render + validate
stage=$BUILD_DIR/$env_name
mkdir -p "$stage"
rendered=$BUILD_DIR/$env_name.yaml
image_repo=${REGISTRY:-registry.invalid}/$IMAGE_NAME

# $1: the image reference fields for kustomize's images transformer (newTag or digest).
render() {
  local overlay_rel
  overlay_rel=$(realpath --relative-to="$stage" "$overlay_dir")
  cat >"$stage/kustomization.yaml" <<EOF
# Generated by scripts/deploy_k8s.sh; do not edit or commit.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $overlay_rel
images:
  - name: $IMAGE_NAME
    newName: $image_repo
    $1
EOF
  "$KUBECTL" kustomize "$stage" >"$rendered" || die "kubectl kustomize $stage failed"
  "$PYTHON" "$validator" schema --kubernetes-version "$K8S_VERSION" "$rendered" >&2 ||
    die "schema validation of $rendered failed"
}

log "render overlay '$env_name' (tag $tag) and validate against Kubernetes $K8S_VERSION"
render "newTag: \"$tag\""
namespace=$("$PYTHON" "$validator" describe "$rendered" --get namespace)

if $dry_run; then
  log "dry run: rendered $(grep -c '^kind:' "$rendered") objects for namespace '$namespace' into $rendered"
  log "dry run: image would be $("$PYTHON" "$validator" describe "$rendered" --get image) (pinned by digest after the push)"
  log "dry run: nothing was built, pushed or applied"
  exit 0
fi

# ---------------------------------------------------------------- 2. build  3. push
image_ref=$image_repo:$tag
if [[ -n $local_image ]]; then
  log "tag local image $local_image as $image_ref"
  "$CONTAINER_ENGINE" tag "$local_image" "$image_ref" || die "no local image '$local_image'"
else
  log "build $image_ref with $CONTAINER_ENGINE"
  "$CONTAINER_ENGINE" build --file "$dockerfile" --tag "$image_ref" "$REPO_ROOT" || die "image build failed"
fi

log "push $image_ref"
digest_file=$stage/digest
rm -f "$digest_file"
if [[ $CONTAINER_ENGINE == podman ]]; then
  podman push --digestfile "$digest_file" "$image_ref" || die "push to $REGISTRY failed"
  digest=$(<"$digest_file")
else
  "$CONTAINER_ENGINE" push "$image_ref" || die "push to $REGISTRY failed"
  repo_digest=$("$CONTAINER_ENGINE" image inspect --format '{{index .RepoDigests 0}}' "$image_ref")
  digest=${repo_digest##*@}
fi
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "could not read the pushed digest (got '$digest')"

log "pin manifests to $image_repo@$digest"
render "digest: $digest"

# ---------------------------------------------------------------- 4. apply + rollout
log "apply to context '$KUBE_CONTEXT', namespace '$namespace'"
"${kube[@]}" apply -k "$stage" || die "kubectl apply failed"
log "wait for the rollout (timeout $ROLLOUT_TIMEOUT)"
"${kube[@]}" --namespace "$namespace" rollout status "deployment/$DEPLOYMENT" --timeout "$ROLLOUT_TIMEOUT" ||
  die "rollout did not finish; see: kubectl -n $namespace describe deployment/$DEPLOYMENT"

# ---------------------------------------------------------------- 5. address
service=$("$PYTHON" "$validator" describe "$rendered" --get service)
address=$("${kube[@]}" --namespace "$namespace" get service "$service" \
  -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}') || die "cannot read service $service"
external=$("${kube[@]}" --namespace "$namespace" get service "$service" \
  -o jsonpath='{.status.loadBalancer.ingress[0].hostname}{.status.loadBalancer.ingress[0].ip}')
log "deployed $image_repo@$digest to $namespace"
echo "service: http://$address (cluster-internal)"
if [[ -n $external ]]; then
  echo "external: http://$external"
else
  echo "from your machine: ${kube[*]} -n $namespace port-forward service/$service 8080:80" \
    "then curl http://127.0.0.1:8080/ready"
fi
