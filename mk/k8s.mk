# Kubernetes side: render every kustomize overlay with the pinned kubectl, validate it
# strictly against one pinned Kubernetes version, scan it with checkov, check the
# invariants no tool sees, and shellcheck + dry-run the deploy script. No cluster needed.

# Kubernetes version whose OpenAPI schemas the manifests must satisfy (kubernetes-validate
# ships schemas up to the version it is named after).
K8S_VERSION ?= 1.37.0
K8S_OVERLAYS := $(notdir $(patsubst %/,%,$(dir $(wildcard k8s/overlays/*/kustomization.yaml))))
K8S_BUILD := build/k8s
K8S_ENV ?= dev

.PHONY: k8s-render k8s-check k8s-deploy

k8s-render: $(TOOLS_VENV)/.stamp ## Render k8s/ and every overlay with the pinned kubectl kustomize into build/k8s/
	@mkdir -p $(K8S_BUILD)
	@for overlay in $(K8S_OVERLAYS); do \
	  $(TOOLS_BIN)/kubectl kustomize k8s/overlays/$$overlay > $(K8S_BUILD)/$$overlay.yaml; \
	  echo "rendered k8s/overlays/$$overlay -> $(K8S_BUILD)/$$overlay.yaml"; \
	done
	@$(TOOLS_BIN)/kubectl kustomize k8s > $(K8S_BUILD)/default.yaml
	@echo "rendered k8s (kubectl apply -k k8s/) -> $(K8S_BUILD)/default.yaml"

k8s-check: k8s-render $(VENV)/.stamp ## Check k8s/: strict schemas, checkov (0 failed), invariants, shellcheck + dry-run of deploy_k8s.sh
	$(TOOLS_BIN)/python scripts/k8s_validate.py schema --kubernetes-version $(K8S_VERSION) \
	  $(foreach o,$(K8S_OVERLAYS) default,$(K8S_BUILD)/$(o).yaml)
	@# checkov exits non-zero on any failed check; skips need a checkov.io/skip annotation
	@# with a reason in the manifest. --skip-download: no platform account or network.
	$(TOOLS_BIN)/checkov --framework kubernetes --skip-download --compact --quiet \
	  $(foreach o,$(K8S_OVERLAYS),-f $(K8S_BUILD)/$(o).yaml)
	$(TOOLS_BIN)/shellcheck scripts/deploy_k8s.sh
	TOOLS_BIN=$(TOOLS_BIN) TWINSERVE_K8S_STRICT=1 $(PY) -m pytest -q -p no:cacheprovider tests/test_k8s_*.py

k8s-deploy: $(TOOLS_VENV)/.stamp ## Build, push to $REGISTRY and deploy k8s/overlays/$K8S_ENV (dev); DRY_RUN=1 renders + validates only
	PATH="$(TOOLS_BIN):$$PATH" K8S_VERSION=$(K8S_VERSION) bash scripts/deploy_k8s.sh --env $(K8S_ENV) $(if $(DRY_RUN),--dry-run)

TEST_TARGETS += k8s-check
