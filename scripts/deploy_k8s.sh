#!/usr/bin/env bash
# Build, push and deploy the twinserve container to Kubernetes with kustomize.
#
# The committed tree under k8s/ is never edited: the image (pinned by digest after the
# push) and MODEL_SHA256 are set in a throwaway overlay in this run's own folder (mktemp -d
# under $BUILD_DIR, so two deploys never share one) that points at k8s/overlays/<env>, written
# by scripts/k8s_set_image.py (what `make k8s-image` runs on the committed overlays; kubectl
# bundles kustomize's build, not its `edit` command). A rollout that does not finish is rolled
# back: `kubectl rollout undo`, and every other object as it was before (scripts/k8s_rollback.py).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/deploy_k8s.sh [--env dev|prod] [--tag TAG] [--image LOCAL_IMAGE]
                             [--model-dir DIR | --model-sha256 HEX|none] [--dry-run]

Deploys the predictor to the current kube context, in this order:
  1. model   the model folder (--model-dir, else $MODEL_DIR, else model/: `make model`) is the
             model the image bakes; the SHA-256 of its metadata.json (which pins every
             artefact) becomes MODEL_SHA256 in the pods' ConfigMap
  2. image   `make image` (podman; it trains model/ first when missing), or with docker
             `make image-inputs` then docker build; skipped with --image
  3. push    to $REGISTRY/twinserve-predict:TAG, never an image built on the stand-in base
             (label org.twinserve.standin); the manifests are then pinned to the pushed digest
  4. apply   render k8s/overlays/<env> with image and pin, validate every object's schema,
             kubectl apply -k, kubectl rollout status, print the Service address. A rollout
             that does not finish in ROLLOUT_TIMEOUT is rolled back: kubectl rollout undo, the
             previous ConfigMap and every other object re-applied as they were, the objects
             this deploy created deleted

Options:
  --env ENV             overlay under k8s/overlays (default: dev)
  --tag TAG             image tag (default: git commit, plus -dirty for local changes)
  --image IMAGE         push this already-built local image (e.g. the one `make image`
                        tagged, localhost/twinserve-predict:<version>) instead of building
  --model-dir DIR       the model folder the image bakes (`make image MODEL_DIR=DIR`; default:
                        $MODEL_DIR, else model/); MODEL_SHA256 is the SHA-256 of its metadata.json
  --model-sha256 VALUE  MODEL_SHA256 for the pods: 64 hex digits, or `none` (the pin in
                        the image's metadata.json applies). Default: from --model-dir
  --dry-run             render and validate only: needs no registry, no container engine,
                        no cluster and no model
  -h, --help            this text

Environment:
  REGISTRY           registry and repository prefix, e.g. ghcr.io/acme (required
                     except with --dry-run); the image is $REGISTRY/twinserve-predict
  KUBE_CONTEXT       kube context to use (default: the current context)
  CONTAINER_ENGINE   podman or docker (default: podman if installed, else docker); podman
                     uses the project's storage in build/podman/ (where `make image` builds)
  KUBECTL            kubectl binary (default: kubectl on PATH, else .venv-tools/bin/kubectl)
  PYTHON             Python that imports kubernetes_validate and yaml (default: python3 if
                     it can, else .venv-tools/bin/python, made by `make setup-tools`)
  K8S_VERSION        Kubernetes version for schema validation (default: 1.37.0)
  ROLLOUT_TIMEOUT    how long to wait for the rollout (default: 300s)
  MODEL_DIR          the model folder (default: model/); --model-dir wins
  BUILD_DIR          parent of each run's own folder (mktemp -d <env>.XXXXXX), which keeps the
                     throwaway overlay, the rendered manifests and the rollback state
                     (default: build/k8s-deploy)

Exit codes: 0 deployed (or dry run passed); 1 a step failed (a failed rollout was rolled back);
2 preflight or usage error (a stand-in image or prod's placeholder certificate ARN included);
3 the rollout failed and the rollback did not complete: the namespace needs a hand.
EOF
}

readonly IMAGE_NAME=twinserve-predict
readonly DEPLOYMENT=twinserve-predict
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$1" >&2; exit "${2:-1}"; }
preflight_fail() { die "preflight: $1" 2; }
# A value for an option, or a usage error (exit 2) naming the option.
need_value() { [[ $# -ge 2 && -n $2 && $2 != --* ]] || { usage >&2; die "$1 needs a value" 2; }; }

env_name=dev
tag=""
local_image=""
model_sha256=""
model_dir_arg=""
dry_run=false
while (($#)); do
  case "$1" in
    --env) need_value "$@"; env_name=$2; shift 2 ;;
    --env=*) env_name=${1#*=}; shift ;;
    --tag) need_value "$@"; tag=$2; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --image) need_value "$@"; local_image=$2; shift 2 ;;
    --image=*) local_image=${1#*=}; shift ;;
    --model-sha256) need_value "$@"; model_sha256=$2; shift 2 ;;
    --model-sha256=*) model_sha256=${1#*=}; shift ;;
    --model-dir) need_value "$@"; model_dir_arg=$2; shift 2 ;;
    --model-dir=*) model_dir_arg=${1#*=}; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" 2 ;;
  esac
done

tools_bin=$REPO_ROOT/.venv-tools/bin
if [[ -z ${KUBECTL:-} ]]; then
  KUBECTL=kubectl
  if ! command -v kubectl >/dev/null && [[ -x $tools_bin/kubectl ]]; then KUBECTL=$tools_bin/kubectl; fi
fi
# The schema check needs kubernetes-validate, which the tools venv has (not the system Python).
if [[ -z ${PYTHON:-} ]]; then
  PYTHON=python3
  if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null && [[ -x $tools_bin/python ]]; then
    PYTHON=$tools_bin/python
  fi
fi
K8S_VERSION=${K8S_VERSION:-1.37.0}
ROLLOUT_TIMEOUT=${ROLLOUT_TIMEOUT:-300s}
BUILD_DIR=${BUILD_DIR:-$REPO_ROOT/build/k8s-deploy}
overlay_dir=$REPO_ROOT/k8s/overlays/$env_name
dockerfile=$REPO_ROOT/services/predict-container/Dockerfile
validator=$REPO_ROOT/scripts/k8s_validate.py
set_image=$REPO_ROOT/scripts/k8s_set_image.py
rollback_helper=$REPO_ROOT/scripts/k8s_rollback.py
model_dir=${model_dir_arg:-${MODEL_DIR:-$REPO_ROOT/model}}
model_dir=$(realpath -m -- "$model_dir")

# ---------------------------------------------------------------- preflight (no side effects)
if ! [[ $env_name =~ ^[a-z0-9-]+$ && -f $overlay_dir/kustomization.yaml ]]; then
  overlays=("$REPO_ROOT"/k8s/overlays/*/)
  overlays=("${overlays[@]%/}")
  preflight_fail "no overlay '$env_name'; choose one of: ${overlays[*]##*/}"
fi
command -v "$KUBECTL" >/dev/null ||
  preflight_fail "kubectl not found (KUBECTL=$KUBECTL); run 'make setup-tools' (it installs the pinned one in .venv-tools/bin)"
"$PYTHON" -c 'import kubernetes_validate, yaml' 2>/dev/null ||
  preflight_fail "$PYTHON cannot import kubernetes_validate; run 'make setup-tools' (this script then uses .venv-tools/bin/python)"
if [[ -n $model_sha256 && $model_sha256 != none && ! ${model_sha256,,} =~ ^[0-9a-f]{64}$ ]]; then
  preflight_fail "--model-sha256 must be 64 hex digits or none, not '$model_sha256'"
fi
[[ -z $model_sha256 || -z $model_dir_arg ]] || preflight_fail "--model-dir and --model-sha256 exclude each other"
# A missing model folder is trained by the image step; a file in its place, or a metadata.json that
# is not JSON, cannot be pinned: say so here (exit 2), not as a failed step after the render.
[[ ! -e $model_dir || -d $model_dir ]] || preflight_fail "model folder $model_dir is not a directory"
if [[ -z $model_sha256 && -f $model_dir/metadata.json ]] &&
  ! "$PYTHON" -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$model_dir/metadata.json" 2>/dev/null; then
  preflight_fail "$model_dir/metadata.json is not readable JSON: register the model again (make model-import) or pass --model-sha256 HEX|none"
fi

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
  # The pods are pinned to the model in model/ (the one the image bakes). Building trains it
  # when missing; a pre-built --image needs it, or an explicit --model-sha256.
  if [[ -n $local_image && -z $model_sha256 && ! -f $model_dir/metadata.json ]]; then
    preflight_fail "no $model_dir/metadata.json to take MODEL_SHA256 from: run 'make model' (the model your image was built from), or pass --model-dir DIR or --model-sha256 HEX|none"
  fi
  [[ -n $local_image ]] || command -v make >/dev/null ||
    preflight_fail "make not found: it builds the image (make image); or pass --image"
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

# This run's own folder: two deploys (of one environment or two) never write into each other's.
mkdir -p "$BUILD_DIR"
run_dir=$(mktemp -d "$BUILD_DIR/$env_name.XXXXXX") || die "cannot create a run folder under $BUILD_DIR"
stage=$run_dir/overlay
rendered=$run_dir/$env_name.yaml
log "run folder: $run_dir"
# kustomize's `images:` match by name: the throwaway overlay replaces whatever image the
# overlay itself names (localhost/twinserve-predict in dev, a registry name in prod).
"$KUBECTL" kustomize "$overlay_dir" >"$rendered" || die "kubectl kustomize $overlay_dir failed"
overlay_image=$("$PYTHON" "$validator" describe "$rendered" --get image_name) ||
  die "cannot read the image of $overlay_dir"
image_repo=${REGISTRY:-registry.invalid}/$IMAGE_NAME

# $1: the image (name:tag or name@sha256:digest). The throwaway overlay merges its model.env
# into the ConfigMap; k8s_set_image.py writes its `images:` entry and model.env.
render() {
  local overlay_rel pin_args
  mkdir -p "$stage"
  overlay_rel=$(realpath --relative-to="$stage" "$overlay_dir")
  cat >"$stage/kustomization.yaml" <<EOF
# Generated by scripts/deploy_k8s.sh; do not edit or commit.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $overlay_rel
configMapGenerator:
  - name: twinserve-predict-config
    behavior: merge
    envs:
      - model.env
EOF
  if [[ -n $model_sha256 ]]; then
    pin_args=(--model-sha256 "$model_sha256")
  elif [[ ! -f $model_dir/metadata.json ]]; then
    # Only before the image step trains it: the preflight requires model/ for --image.
    if $dry_run; then log "dry run: no $model_dir/metadata.json, so no MODEL_SHA256 pin (a real deploy takes it from there)"; fi
    pin_args=(--model-sha256 none)
  else
    pin_args=(--model-dir "$model_dir")
  fi
  "$PYTHON" "$set_image" "$stage" --image "$1" --match "$overlay_image" "${pin_args[@]}" >&2 ||
    die "cannot write the image and MODEL_SHA256 into $stage"
  "$KUBECTL" kustomize "$stage" >"$rendered" || die "kubectl kustomize $stage failed"
  "$PYTHON" "$validator" schema --kubernetes-version "$K8S_VERSION" "$rendered" >&2 ||
    die "schema validation of $rendered failed"
}

# ------------------------------------------------- render + validate first (cheap, no side effects)
log "render overlay '$env_name' (tag $tag) and validate against Kubernetes $K8S_VERSION"
render "$image_repo:$tag"
namespace=$("$PYTHON" "$validator" describe "$rendered" --get namespace)
# edge.env's committed certificate ARN (account 000000000000) names no certificate: the load
# balancer would never get its HTTPS listener.
certificate_arn=$("$PYTHON" "$validator" describe "$rendered" --get certificate_arn 2>/dev/null) || certificate_arn=""
if [[ $certificate_arn == *:000000000000:* ]]; then
  placeholder="the Ingress's certificate ARN is the committed placeholder: set CERTIFICATE_ARN (and LOAD_BALANCER_CIDR) in k8s/overlays/prod/edge.env"
  if $dry_run; then log "dry run: $placeholder"; else preflight_fail "$placeholder"; fi
fi

if $dry_run; then
  log "dry run: rendered $(grep -c '^kind:' "$rendered") objects for namespace '$namespace' into $rendered"
  log "dry run: image would be $("$PYTHON" "$validator" describe "$rendered" --get image) (pinned by digest after the push)"
  log "dry run: nothing was built, pushed or applied"
  exit 0
fi

# ---------------------------------------------------------------- 1. model  2. image
image_ref=$image_repo:$tag
if [[ -z $local_image ]]; then
  local_image=localhost/$IMAGE_NAME:$tag
  if [[ $CONTAINER_ENGINE == podman ]]; then
    log "model + image: make image IMAGE=$local_image (trains model/ first when it is missing)"
    make -C "$REPO_ROOT" --no-print-directory image IMAGE="$local_image" MODEL_DIR="$model_dir" || die "make image failed"
  else
    log "model + build inputs: make image-inputs (model/ and the wheels the Dockerfile installs)"
    make -C "$REPO_ROOT" --no-print-directory image-inputs MODEL_DIR="$model_dir" || die "make image-inputs failed"
    log "image: $CONTAINER_ENGINE build $local_image"
    "$CONTAINER_ENGINE" build --file "$dockerfile" --tag "$local_image" "$REPO_ROOT" || die "image build failed"
  fi
  # The image now bakes model/: pin what it bakes (the render above may predate the model).
  [[ -n $model_sha256 || -f $model_dir/metadata.json ]] ||
    die "the image was built but $model_dir/metadata.json is missing: cannot pin MODEL_SHA256"
  render "$image_repo:$tag"
fi
# `make image` builds into the project's own podman storage: use it unless told otherwise.
if [[ $CONTAINER_ENGINE == podman && -z ${CONTAINERS_STORAGE_CONF:-} && -f $REPO_ROOT/build/podman/storage.conf ]]; then
  export CONTAINERS_CONF=$REPO_ROOT/build/podman/containers.conf
  export CONTAINERS_STORAGE_CONF=$REPO_ROOT/build/podman/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$REPO_ROOT/infra/podman/registries.conf
fi

# ---------------------------------------------------------------- 3. push
# The stand-in base (make image's fallback when the real one cannot be pulled) gets no security
# updates: an image built on it is for local tests and never leaves this machine.
standin=$("$CONTAINER_ENGINE" image inspect --format '{{ index .Config.Labels "org.twinserve.standin" }}' "$local_image" 2>/dev/null) ||
  die "no local image '$local_image' in $CONTAINER_ENGINE's storage (build it with 'make image', or omit --image)"
if [[ -n $standin && $standin != "<no value>" && $standin != false ]]; then
  die "refusing to push $local_image: it is built on the stand-in base (label org.twinserve.standin=$standin), which gets no security updates; build it on the real base image" 2
fi
log "tag local image $local_image as $image_ref"
"$CONTAINER_ENGINE" tag "$local_image" "$image_ref" ||
  die "no local image '$local_image' in $CONTAINER_ENGINE's storage (build it with 'make image', or omit --image)"

log "push $image_ref"
digest_file=$run_dir/digest
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
render "$image_repo@$digest"

# ---------------------------------------------------------------- 4. apply + rollout
# What a rollback puts back, read before anything changes: the live objects as last applied,
# and the ConfigMap the live pods use (its generated name differs from the new one).
rollback_dir=$run_dir/rollback
"${kube[@]}" get -f "$rendered" -o json --ignore-not-found >"$run_dir/live.json" ||
  die "cannot read the current state of the objects to apply (kubectl get -f $rendered)"
live=(--live "$run_dir/live.json")
# The revision to undo to (not merely "the previous one": an apply that leaves the pod template
# as it was makes no new revision) and the ConfigMap the live pods use.
live_deployment=$("${kube[@]}" --namespace "$namespace" get deployment "$DEPLOYMENT" --ignore-not-found -o \
  jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision} {.spec.template.spec.containers[*].envFrom[*].configMapRef.name}') ||
  die "cannot read the live deployment/$DEPLOYMENT"
read -r live_revision live_configmap _ <<<"$live_deployment" || true
if [[ -n $live_configmap ]]; then
  "${kube[@]}" --namespace "$namespace" get configmap "$live_configmap" -o json --ignore-not-found \
    >"$run_dir/live-configmap.json" || die "cannot read the live configmap/$live_configmap"
  live+=(--live "$run_dir/live-configmap.json")
fi
"$PYTHON" "$rollback_helper" snapshot --rendered "$rendered" "${live[@]}" --out "$rollback_dir" >&2 ||
  die "cannot record the state to roll back to"

# Undo the Deployment, re-apply every other object as it was, delete what this deploy created.
# Returns non-zero at the first step that fails (the caller says which state is left).
rollback() {
  local created
  "${kube[@]}" --namespace "$namespace" rollout undo "deployment/$DEPLOYMENT" --to-revision "$live_revision" || return 1
  if [[ -s $rollback_dir/restore.yaml ]]; then
    "${kube[@]}" apply -f "$rollback_dir/restore.yaml" || return 1
  fi
  while read -r created; do
    "${kube[@]}" --namespace "$namespace" delete "$created" --ignore-not-found || return 1
  done <"$rollback_dir/created.txt"
  "${kube[@]}" --namespace "$namespace" rollout status "deployment/$DEPLOYMENT" --timeout "$ROLLOUT_TIMEOUT"
}

log "apply to context '$KUBE_CONTEXT', namespace '$namespace'"
"${kube[@]}" apply -k "$stage" || die "kubectl apply failed"
log "wait for the rollout (timeout $ROLLOUT_TIMEOUT)"
if ! "${kube[@]}" --namespace "$namespace" rollout status "deployment/$DEPLOYMENT" --timeout "$ROLLOUT_TIMEOUT"; then
  why="see kubectl -n $namespace describe deployment/$DEPLOYMENT and the pod log (a MODEL_SHA256 mismatch shows there)"
  if [[ -e $rollback_dir/first-deploy || -z $live_revision ]]; then
    die "rollout of $image_repo@$digest did not finish and there is no previous version to roll back to; $why; remove it with: ${kube[*]} delete -k $stage"
  fi
  log "rollout did not finish: rolling back (undo, previous ConfigMap${live_configmap:+ $live_configmap} and objects re-applied, new objects deleted)"
  rollback ||
    die "rollout of $image_repo@$digest did not finish and the rollback did not complete either; the namespace is half-deployed: $why; state to restore in $rollback_dir" 3
  die "rollout of $image_repo@$digest did not finish; rolled back to revision $live_revision${live_configmap:+ with configmap/$live_configmap}, $(wc -l <"$rollback_dir/created.txt") new object(s) deleted; $why"
fi

# ---------------------------------------------------------------- address
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
if ingress=$("$PYTHON" "$validator" describe "$rendered" --get ingress 2>/dev/null); then
  echo "load balancer: the AWS Load Balancer Controller provisions it in a minute or two;" \
    "its address: ${kube[*]} -n $namespace get ingress $ingress" \
    "-o jsonpath='{.status.loadBalancer.ingress[0].hostname}'"
fi
