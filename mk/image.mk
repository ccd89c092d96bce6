# The container image: lint the Dockerfile, build it with podman,
# run it as the pod runs and smoke-test it. No Docker engine and no registry here: podman with
# the project's own configuration (infra/podman/ -> build/podman/), builds with --pull=never
# and --network=none (wheels come from build/image/wheels/, downloaded on the host).

DOCKERFILE := services/predict-container/Dockerfile
IMAGE_REPO ?= localhost/twinserve-predict
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)
IMAGE ?= $(IMAGE_REPO):$(IMAGE_TAG)
# The base is whatever the Dockerfile's `FROM ... AS base` names (one place to change it).
BASE_IMAGE := $(shell awk '/^FROM .* AS base/ {print $$2; exit}' $(DOCKERFILE))
# It names the base by digest, and no locally built image can carry a digest: the stand-in is
# tagged with the name alone, and the build is pointed at it (--from replaces the first FROM)
# only when the real, digest-pinned base is not in storage.
BASE_STANDIN := $(firstword $(subst @, ,$(BASE_IMAGE)))

PODMAN_ROOT := $(abspath build/podman)
PODMAN_CONF := $(PODMAN_ROOT)/containers.conf $(PODMAN_ROOT)/storage.conf
PODMAN_ENV := CONTAINERS_CONF=$(PODMAN_ROOT)/containers.conf \
  CONTAINERS_STORAGE_CONF=$(PODMAN_ROOT)/storage.conf \
  CONTAINERS_REGISTRIES_CONF=$(abspath infra/podman/registries.conf)
# Other targets (e.g. a deploy script) can run `$(PODMAN) ...` against the same storage.
PODMAN := $(PODMAN_ENV) podman

IMAGE_WHEELS := build/image/wheels
# What the image serves: MODEL_DIR, copied into the build context (it may live outside the
# repository), and the requirements its backend needs: ONNX Runtime alone, or scikit-learn's
# stack beside it for a model with no equal ONNX form.
IMAGE_MODEL := build/image/model
IMAGE_REQS := build/image/requirements.txt
IMAGE_BACKEND = $(shell $(PYTHON) -c 'import json, sys; print("onnxruntime" if json.load(open(sys.argv[1]))["artefacts"].get("serving") else "scikit-learn")' $(MODEL_DIR)/metadata.json 2>/dev/null)
IMAGE_REQUIREMENTS = services/predict-container/requirements.txt \
  $(if $(filter scikit-learn,$(IMAGE_BACKEND)),services/predict-container/requirements-sklearn.txt)
# Any glibc-2.28+ manylinux wheel runs on bookworm (glibc 2.36); pip does not widen one
# --platform to older manylinux tags by itself, so name each.
IMAGE_WHEEL_PLATFORMS := manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64

# Debian 12 packages, pinned. binutils: `strip` for the stand-in base.
IMAGE_APT_PACKAGES := podman=4.3.1+ds1-8+deb12u1+b3 buildah=1.28.2+ds1-3+deb12u1+b3 \
  runc=1.1.5+ds1-1+deb12u1 conmon=2.1.6+ds1-1 debootstrap=1.0.128+nmu2+deb12u2 binutils=2.40-2

CHECKOV_FLAGS := --skip-download --compact --quiet

# Where `make image-save` writes the image for loading into a local cluster's node.
IMAGE_ARCHIVE := build/image/twinserve-predict.tar

.PHONY: lint-dockerfile image image-inputs image-save image-smoke image-clean image-stage-model

lint-dockerfile: $(TOOLS_VENV)/.stamp ## hadolint + checkov (0 failed) on the Dockerfile
	$(TOOLS_BIN)/hadolint --failure-threshold info $(DOCKERFILE)
	$(TOOLS_BIN)/checkov --framework dockerfile -f $(DOCKERFILE) $(CHECKOV_FLAGS)

# Installs only what is missing or at another version (apt-get update first, as always).
$(PODMAN_ROOT)/.apt-stamp: mk/image.mk
	@missing=""; for pin in $(IMAGE_APT_PACKAGES); do \
	  have=$$(dpkg-query -W -f='$${Version}' "$${pin%%=*}" 2>/dev/null || true); \
	  [[ "$$have" == "$${pin#*=}" ]] || missing="$$missing $$pin"; \
	done; \
	if [[ -n "$$missing" ]]; then \
	  echo "apt: installing$$missing"; \
	  apt-get update -q; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	mkdir -p $(@D) && touch $@

$(PODMAN_ROOT)/%.conf: infra/podman/%.conf.in
	mkdir -p $(@D)
	sed 's|@PODMAN_ROOT@|$(PODMAN_ROOT)|g' $< > $@

# Rewritten only when the set of requirements changes (another model's backend), so the wheels follow.
$(IMAGE_REQS): FORCE_IMAGE_REQS $(MODEL_DIR)/metadata.json
	@mkdir -p $(@D)
	@cat $(IMAGE_REQUIREMENTS) > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; echo "image requirements: $(IMAGE_REQUIREMENTS)"; fi

.PHONY: FORCE_IMAGE_REQS
FORCE_IMAGE_REQS:

$(IMAGE_WHEELS)/.stamp: $(IMAGE_REQS) $(VENV)/.stamp
	rm -rf $(IMAGE_WHEELS)
	$(PY) -m pip download --quiet --require-hashes --dest $(IMAGE_WHEELS) --no-deps --only-binary=:all: \
	  $(addprefix --platform ,$(IMAGE_WHEEL_PLATFORMS)) --python-version 3.12 --implementation cp \
	  --requirement $(IMAGE_REQS)
	touch $@

# nginx for the image: the same Debian package as the host's (NGINX_VERSION), downloaded by apt
# (which checks it against the archive's signed index); the build is offline, so the Dockerfile
# unpacks its binary from here.
IMAGE_DEBS := build/image/debs

$(IMAGE_DEBS)/.stamp: Makefile | $(NGINX_STAMP)
	rm -rf $(IMAGE_DEBS) && mkdir -p $(IMAGE_DEBS)
	cd $(IMAGE_DEBS) && apt-get download -q nginx=$(NGINX_VERSION)
	touch $@

# The registered model, copied fresh into the build context for every build.
image-stage-model: $(MODEL_DIR)/metadata.json
	rm -rf $(IMAGE_MODEL) && mkdir -p $(dir $(IMAGE_MODEL)) && cp -R $(MODEL_DIR) $(IMAGE_MODEL)

image: $(PODMAN_ROOT)/.apt-stamp $(PODMAN_CONF) $(IMAGE_WHEELS)/.stamp $(IMAGE_DEBS)/.stamp image-stage-model ## Build the container image with podman (IMAGE=localhost/twinserve-predict:<version>)
	@if ! $(PODMAN) image exists $(BASE_IMAGE) && ! $(PODMAN) image exists $(BASE_STANDIN); then \
	  $(PODMAN_ENV) infra/podman/standin-base.sh $(BASE_IMAGE) $(PODMAN_ROOT)/standin; fi
	@if ! $(PODMAN) image exists $(BASE_IMAGE); then \
	  printf '\n\033[1;33m  WARNING: %s is not in podman storage: building on %s (stand-in label: %s),\n  not the pinned published image: fine for smoke tests and local benchmarks, never push it.\033[0m\n\n' \
	    '$(BASE_IMAGE)' '$(BASE_STANDIN)' "$$($(PODMAN) image inspect --format '{{index .Labels "org.twinserve.standin"}}' $(BASE_STANDIN))"; fi
	$(PODMAN) build --pull=never --network=none --format=docker --layers \
	  $$($(PODMAN) image exists $(BASE_IMAGE) || echo --from=$(BASE_STANDIN)) \
	  --file $(DOCKERFILE) --tag $(IMAGE) .
	@$(PODMAN) image inspect --format '{{.Size}}' $(IMAGE) | \
	  awk '{printf "built %s: %.1f MiB (%d bytes) uncompressed\n", "$(IMAGE)", $$1 / 1048576, $$1}'

image-inputs: $(IMAGE_WHEELS)/.stamp $(IMAGE_DEBS)/.stamp image-stage-model ## What the Dockerfile copies from the host (model/, wheels), for a build with docker instead of podman

# kind, k3d and minikube load an image from a docker archive into their nodes; the dev
# overlay (kubectl apply -k k8s/) then runs it with imagePullPolicy IfNotPresent.
image-save: image ## Save IMAGE to build/image/twinserve-predict.tar (kind load image-archive, k3d image import, minikube image load)
	rm -f $(IMAGE_ARCHIVE)
	$(PODMAN) save --format docker-archive --output $(IMAGE_ARCHIVE) $(IMAGE)
	@echo "saved $(IMAGE) -> $(IMAGE_ARCHIVE)"

image-smoke: image ## Run the image as the pod runs (k8s limits, read-only, 127.0.0.1) and check /health, /ready, /predict, stop
	$(PY) scripts/image_smoke.py --image $(IMAGE) --model-dir $(MODEL_DIR)

image-clean: ## Remove podman's project storage (images, stand-in base) and the downloaded wheels
	if [[ -f $(PODMAN_ROOT)/storage.conf ]]; then \
	  $(PODMAN) rm --all --force --time=0 >/dev/null; \
	  $(PODMAN) rmi --all --force >/dev/null; fi
	rm -rf $(PODMAN_ROOT) build/image

# Both fit CI's budget (measured on 2 busy cores, fresh storage: stand-in base 70-110 s, build
# 60-95 s, smoke ~10 s; with a warm build/podman the image step is a cache hit of a few seconds).
TEST_TARGETS += lint-dockerfile image-smoke
