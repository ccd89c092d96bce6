# Lambda packaging (serverless side): offline `osls package` + size + cfn-lint + checkov + import
# smoke, all in scripts/lambda_package_build.sh. Incremental: the package is rebuilt only when one of
# its inputs (or a LAMBDA_* setting) changed since the last successful build, or when one of its
# outputs is gone. `npx osls package` / `npx osls deploy` at the repository root call this target
# through .serverless_plugins/twinserve-package.js and ship the zip whose SHA-256 the stamp records.
#
#   make package-lambda [LAMBDA_STAGE=dev LAMBDA_REGION=eu-west-1 LAMBDA_ARCH=x86_64|arm64 LAMBDA_MEMORY_MB=1024]
#                       [LAMBDA_PARAMS="key=value ..."]   any serverless.yml param, as osls --param
#
# The unzipped package lands in build/lambda/pkg/ (the local Lambda emulator runs from there).

LAMBDA_STAGE ?= dev
LAMBDA_REGION ?= eu-west-1
# Empty = serverless.yml's defaults (x86_64, 1024 MB).
LAMBDA_ARCH ?=
LAMBDA_MEMORY_MB ?=
LAMBDA_PARAMS ?=
# CPython 3.12 (Lambda's runtime version): LAMBDA_PYTHON, else pyenv's newest 3.12.x, else
# python3.12 on PATH; empty when none is found (the stamp rule then prints how to install one).
LAMBDA_PYTHON ?= $(shell scripts/lambda_package_python.sh --which 2>/dev/null)

# Stage and region reach osls and the recipes below: a stage of a-z, 0-9 and '-', a region shaped
# like eu-west-1, else one line and exit 2 ($(error), raised when a Lambda recipe is expanded).
_LAMBDA_DIGITS := 0 1 2 3 4 5 6 7 8 9
_LAMBDA_CHARS := a b c d e f g h i j k l m n o p q r s t u v w x y z $(_LAMBDA_DIGITS) -
# $(call _lambda_rest,TEXT,CHARS): what is left of TEXT once every one of CHARS is removed.
_lambda_rest = $(if $(2),$(call _lambda_rest,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,99,$(2))),$(1))
_lambda_one_word = $(and $(filter 1,$(words $(1))),$(filter $(1),$(strip $(1))))
_lambda_stage_ok = $(and $(call _lambda_one_word,$(LAMBDA_STAGE)),$(if $(call _lambda_rest,$(LAMBDA_STAGE),$(_LAMBDA_CHARS)),,ok))
_lambda_region_parts = $(subst -, ,$(LAMBDA_REGION))
_lambda_region_ok = $(and $(call _lambda_one_word,$(LAMBDA_REGION)),$(if $(call _lambda_rest,$(LAMBDA_REGION),$(_LAMBDA_CHARS)),,ok), \
  $(filter-out 0 1 2,$(words $(_lambda_region_parts))),$(if $(call _lambda_rest,$(lastword $(_lambda_region_parts)),$(_LAMBDA_DIGITS)),,ok), \
  $(if $(call _lambda_rest,$(firstword $(_lambda_region_parts)),$(_LAMBDA_DIGITS)),ok))
LAMBDA_CHECK_NAMES = $(if $(_lambda_stage_ok),,$(error LAMBDA_STAGE '$(LAMBDA_STAGE)' must be a-z, 0-9 and '-' only))$(if \
  $(_lambda_region_ok),,$(error LAMBDA_REGION '$(LAMBDA_REGION)' is not an AWS region name like eu-west-1))

LAMBDA_BUILD ?= build/lambda
LAMBDA_STAMP := $(LAMBDA_BUILD)/.packaged
LAMBDA_SETTINGS := $(LAMBDA_BUILD)/settings.txt
LAMBDA_ZIP := $(LAMBDA_BUILD)/service/.serverless/twinserve.zip
LAMBDA_TEMPLATE := $(LAMBDA_BUILD)/service/.serverless/cloudformation-template-update-stack.json
# What the stamp vouches for. Other tools delete some of these (`osls deploy --package` removes the
# staged .serverless/, `make clean` all of build/): a missing one forces a rebuild, and one changed
# after the stamp (a newer file) makes the stamp out of date.
LAMBDA_OUTPUTS := $(LAMBDA_ZIP) $(LAMBDA_TEMPLATE) $(LAMBDA_BUILD)/service/.serverless/serverless-state.json \
  $(LAMBDA_BUILD)/package-size.json $(LAMBDA_BUILD)/pkg/handler.py
LAMBDA_MISSING_OUTPUTS := $(filter-out $(wildcard $(LAMBDA_OUTPUTS)),$(LAMBDA_OUTPUTS))
NODE_STAMP := node_modules/.stamp
# Everything that ends up in, or decides, the package. __pycache__ is rebuilt in the staging step.
LAMBDA_INPUTS := serverless.yml package.json package-lock.json .serverless_plugins/twinserve-package.js \
  scripts/lambda_package_tool.py scripts/lambda_package_python.sh scripts/lambda_package_build.sh \
  $(shell find shared/twinserve services/predict-lambda services/predict-container/twinserve_flask $(MODEL_DIR) \
      -type f -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null)

.PHONY: package-lambda lambda-deploy-dry-run

$(NODE_STAMP): package.json package-lock.json .npmrc
	npm ci --no-audit --no-fund
	touch $@

# Rewritten only when a setting changes, so a changed LAMBDA_* variable repackages.
$(LAMBDA_SETTINGS): FORCE_LAMBDA_SETTINGS
	@$(LAMBDA_CHECK_NAMES)mkdir -p $(@D)
	@printf 'model=%s stage=%s region=%s arch=%s memory=%s params=%s python=%s\n' '$(abspath $(MODEL_DIR))' '$(LAMBDA_STAGE)' '$(LAMBDA_REGION)' \
	  '$(LAMBDA_ARCH)' '$(LAMBDA_MEMORY_MB)' '$(LAMBDA_PARAMS)' '$(LAMBDA_PYTHON)' > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

.PHONY: FORCE_LAMBDA_SETTINGS
FORCE_LAMBDA_SETTINGS:

# The stamp holds the SHA-256 of the checked zip and template; the root osls plugin ships only that zip.
$(LAMBDA_STAMP): $(LAMBDA_INPUTS) $(LAMBDA_SETTINGS) $(NODE_STAMP) $(VENV)/.stamp $(TOOLS_VENV)/.stamp $(MODEL_DIR)/metadata.json \
    $(wildcard $(LAMBDA_OUTPUTS)) $(if $(LAMBDA_MISSING_OUTPUTS),FORCE_LAMBDA_SETTINGS)
	@LAMBDA_PYTHON='$(LAMBDA_PYTHON)' scripts/lambda_package_python.sh --which >/dev/null
	@rm -f $@
	PY=$(abspath $(PY)) TOOLS_BIN=$(TOOLS_BIN) LAMBDA_PYTHON=$(LAMBDA_PYTHON) LAMBDA_BUILD=$(abspath $(LAMBDA_BUILD)) \
	  MODEL_DIR='$(abspath $(MODEL_DIR))' \
	  LAMBDA_STAGE='$(LAMBDA_STAGE)' LAMBDA_REGION='$(LAMBDA_REGION)' \
	  LAMBDA_ARCH=$(LAMBDA_ARCH) LAMBDA_MEMORY_MB=$(LAMBDA_MEMORY_MB) LAMBDA_PARAMS='$(LAMBDA_PARAMS)' \
	  scripts/lambda_package_build.sh
	sha256sum $(abspath $(LAMBDA_ZIP)) $(abspath $(LAMBDA_TEMPLATE)) > $@.new
	mv $@.new $@

package-lambda: $(LAMBDA_STAMP) ## Package the Lambda offline (osls), check size <=250 MiB, cfn-lint, checkov, import smoke -> build/lambda/pkg
	@$(PY) -c 'import json, sys; d = json.load(open(sys.argv[1])); print("package-lambda: %.1f MiB unzipped, in %s/pkg (%s)" % (d["unzipped_bytes"] / 2**20, sys.argv[2], sys.argv[3]))' \
	  $(LAMBDA_BUILD)/package-size.json $(LAMBDA_BUILD) "$$(cat $(LAMBDA_SETTINGS))"

# The deploy script's offline path: preflight, then `npx osls package` at the root (the same
# plugin path a deploy takes: make package-lambda, SHA-256 and template identity), no AWS call.
lambda-deploy-dry-run: $(NODE_STAMP) $(TOOLS_VENV)/.stamp ## Preflight + `osls package` at the root (checked package, template identity) of scripts/deploy_lambda.sh, touching no cloud (shellcheck too)
	$(TOOLS_BIN)/shellcheck scripts/deploy_lambda.sh scripts/lambda_package_build.sh scripts/lambda_package_python.sh
	$(LAMBDA_CHECK_NAMES)scripts/deploy_lambda.sh --dry-run --stage '$(LAMBDA_STAGE)' --region '$(LAMBDA_REGION)'

TEST_TARGETS += package-lambda lambda-deploy-dry-run
