# Kubernetes side: render every kustomize overlay with the pinned kubectl, validate it
# strictly against one pinned Kubernetes version, check who can reach the pods, scan it with checkov, check the
# invariants no tool sees, and shellcheck + dry-run the deploy script. No cluster needed.

# Kubernetes version whose OpenAPI schemas the manifests must satisfy (kubernetes-validate
# ships schemas up to the version it is named after).
K8S_VERSION ?= 1.37.0
K8S_OVERLAYS := $(notdir $(patsubst %/,%,$(dir $(wildcard k8s/overlays/*/kustomization.yaml))))
K8S_BUILD := build/k8s
K8S_ENV ?= dev

# The k8s tests: the tests/k8s/ folder.
K8S_TESTS := tests/k8s/

.PHONY: k8s-render k8s-check k8s-deploy k8s-registry-set k8s-image

k8s-render: $(TOOLS_VENV)/.stamp ## Render k8s/ and every overlay with the pinned kubectl kustomize into build/k8s/
	@mkdir -p $(K8S_BUILD)
	@for overlay in $(K8S_OVERLAYS); do \
	  $(TOOLS_BIN)/kubectl kustomize k8s/overlays/$$overlay > $(K8S_BUILD)/$$overlay.yaml; \
	  echo "rendered k8s/overlays/$$overlay -> $(K8S_BUILD)/$$overlay.yaml"; \
	done
	@$(TOOLS_BIN)/kubectl kustomize k8s > $(K8S_BUILD)/default.yaml
	@echo "rendered k8s (kubectl apply -k k8s/) -> $(K8S_BUILD)/default.yaml"

# The model: the deploy script's tests pin MODEL_SHA256 from model/, as a real deploy does.
k8s-check: k8s-render $(VENV)/.stamp $(MODEL_DIR)/metadata.json ## Check k8s/: strict schemas, posture (network, Ingress, TLS), checkov (0 failed), invariants, shellcheck + dry-run of deploy_k8s.sh
	$(TOOLS_BIN)/python scripts/k8s_validate.py schema --kubernetes-version $(K8S_VERSION) \
	  $(foreach o,$(K8S_OVERLAYS) default,$(K8S_BUILD)/$(o).yaml)
	@# Who can reach the pods: every NetworkPolicy rule names its sources, no Ingress path
	@# reaches the metrics port, every Ingress listens on HTTPS (scripts/k8s_posture.py).
	$(TOOLS_BIN)/python scripts/k8s_validate.py posture \
	  $(foreach o,$(K8S_OVERLAYS) default,$(K8S_BUILD)/$(o).yaml)
	@# checkov exits non-zero on any failed check; skips need a checkov.io/skip annotation
	@# with a reason in the manifest. --skip-download: no platform account or network.
	$(TOOLS_BIN)/checkov --framework kubernetes --skip-download --compact --quiet \
	  $(foreach o,$(K8S_OVERLAYS),-f $(K8S_BUILD)/$(o).yaml)
	$(TOOLS_BIN)/shellcheck scripts/deploy_k8s.sh
	TOOLS_BIN=$(TOOLS_BIN) TWINSERVE_K8S_STRICT=1 $(PY) -m pytest -q -p no:cacheprovider $(K8S_TESTS)

# In order: model (a prerequisite of image), image, then the script pushes (never an image on
# the stand-in base), pins the digest and MODEL_SHA256 (the hash of $(MODEL_DIR)/metadata.json),
# applies and waits (rolling back a rollout that does not finish). The podman variables point it at the storage `make
# image` built into.
k8s-deploy: $(TOOLS_VENV)/.stamp $(if $(DRY_RUN),,k8s-registry-set image) ## Model, image, push to $REGISTRY, apply k8s/overlays/$K8S_ENV (dev); DRY_RUN=1 renders + validates only
	PATH="$(TOOLS_BIN):$$PATH" K8S_VERSION=$(K8S_VERSION) MODEL_DIR='$(abspath $(MODEL_DIR))' $(if $(DRY_RUN),,$(PODMAN_ENV)) \
	  bash scripts/deploy_k8s.sh --env $(K8S_ENV) $(if $(DRY_RUN),--dry-run,--image $(IMAGE))

# Checked before the image is built, not after.
k8s-registry-set:
	@test -n "$(REGISTRY)" || { echo "error: REGISTRY is not set (make k8s-deploy REGISTRY=ghcr.io/you); DRY_RUN=1 renders and validates only" >&2; exit 2; }

# `kustomize edit set image` for the pinned toolset: kubectl has kustomize's build but not
# its `edit`, and no pinned kustomize installs from PyPI or npm here, so a small script
# rewrites the overlay's `images:` block (and verifies nothing else changed). It also pins
# MODEL_SHA256 in the overlay's model.env to the metadata.json of $(MODEL_DIR) (the model
# `make image` bakes); MODEL_SHA256=<hex> names another, MODEL_SHA256=none clears the pin.
k8s-image: $(VENV)/.stamp ## Point k8s/overlays/$K8S_ENV at IMAGE (default: what make image tags) and pin MODEL_SHA256 to model/
	$(PY) scripts/k8s_set_image.py k8s/overlays/$(K8S_ENV) --image '$(IMAGE)' \
	  $(if $(MODEL_SHA256),--model-sha256 '$(MODEL_SHA256)',--model-dir $(MODEL_DIR))

TEST_TARGETS += k8s-check
