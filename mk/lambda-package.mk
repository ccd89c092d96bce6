# Lambda packaging (issue 3, serverless side): offline `osls package` + size + cfn-lint + checkov +
# import smoke, all in scripts/lambda_package_build.sh. Incremental: the package is rebuilt only when
# one of its inputs (or a LAMBDA_* setting) changed since the last successful build.
#
#   make package-lambda [LAMBDA_STAGE=dev LAMBDA_REGION=eu-west-1 LAMBDA_ARCH=x86_64|arm64 LAMBDA_MEMORY_MB=1024]
#
# The unzipped package lands in build/lambda/pkg/ (the local Lambda emulator runs from there).

LAMBDA_STAGE ?= dev
LAMBDA_REGION ?= eu-west-1
# Empty = serverless.yml's defaults (x86_64, 1024 MB).
LAMBDA_ARCH ?=
LAMBDA_MEMORY_MB ?=
LAMBDA_PYTHON ?= $(shell pyenv root 2>/dev/null)/versions/3.12.1/bin/python3.12

LAMBDA_BUILD := build/lambda
LAMBDA_STAMP := $(LAMBDA_BUILD)/.packaged
LAMBDA_SETTINGS := $(LAMBDA_BUILD)/settings.txt
NODE_STAMP := node_modules/.stamp
# Everything that ends up in, or decides, the package. __pycache__ is rebuilt in the staging step.
LAMBDA_INPUTS := serverless.yml package.json package-lock.json \
  scripts/lambda_package_tool.py scripts/lambda_package_python.sh scripts/lambda_package_build.sh \
  $(shell find shared/twinserve services/predict-lambda services/predict-container/twinserve_flask $(MODEL_DIR) \
      -type f -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null)

.PHONY: package-lambda lambda-deploy-dry-run

$(NODE_STAMP): package.json package-lock.json .npmrc
	npm ci --no-audit --no-fund
	touch $@

# Rewritten only when a setting changes, so a changed LAMBDA_* variable repackages.
$(LAMBDA_SETTINGS): FORCE_LAMBDA_SETTINGS
	@mkdir -p $(@D)
	@printf 'stage=%s region=%s arch=%s memory=%s python=%s\n' '$(LAMBDA_STAGE)' '$(LAMBDA_REGION)' \
	  '$(LAMBDA_ARCH)' '$(LAMBDA_MEMORY_MB)' '$(LAMBDA_PYTHON)' > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

.PHONY: FORCE_LAMBDA_SETTINGS
FORCE_LAMBDA_SETTINGS:

$(LAMBDA_STAMP): $(LAMBDA_INPUTS) $(LAMBDA_SETTINGS) $(NODE_STAMP) $(VENV)/.stamp $(TOOLS_VENV)/.stamp $(MODEL_DIR)/metadata.json
	@test -x "$(LAMBDA_PYTHON)" || { echo "Python 3.12 not found at LAMBDA_PYTHON=$(LAMBDA_PYTHON); install it (pyenv install 3.12.1) or set LAMBDA_PYTHON"; exit 2; }
	@rm -f $@
	PY=$(abspath $(PY)) TOOLS_BIN=$(TOOLS_BIN) LAMBDA_PYTHON=$(LAMBDA_PYTHON) \
	  LAMBDA_STAGE=$(LAMBDA_STAGE) LAMBDA_REGION=$(LAMBDA_REGION) \
	  LAMBDA_ARCH=$(LAMBDA_ARCH) LAMBDA_MEMORY_MB=$(LAMBDA_MEMORY_MB) \
	  scripts/lambda_package_build.sh
	touch $@

package-lambda: $(LAMBDA_STAMP) ## Package the Lambda offline (osls), check size <=250 MiB, cfn-lint, checkov, import smoke -> build/lambda/pkg
	@$(PY) -c 'import json, sys; d = json.load(open(sys.argv[1])); print("package-lambda: %.1f MiB unzipped, in build/lambda/pkg (%s)" % (d["unzipped_bytes"] / 2**20, sys.argv[2]))' \
	  $(LAMBDA_BUILD)/package-size.json "$$(cat $(LAMBDA_SETTINGS))"

lambda-deploy-dry-run: $(NODE_STAMP) $(TOOLS_VENV)/.stamp ## Preflight + package + checks of scripts/deploy_lambda.sh, touching no cloud (shellcheck too)
	$(TOOLS_BIN)/shellcheck scripts/deploy_lambda.sh scripts/lambda_package_build.sh scripts/lambda_package_python.sh
	scripts/deploy_lambda.sh --dry-run --stage $(LAMBDA_STAGE) --region $(LAMBDA_REGION)

TEST_TARGETS += package-lambda lambda-deploy-dry-run
