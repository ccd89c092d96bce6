# `make bench-tune`: memory power-tuning as AWS Lambda Power Tuning does it. Per memory size: cold init
# (forced cold starts, REPORT Init Duration), warm billed duration (REPORT Billed Duration), cost per
# million invocations and per month at RPS, and the cost / speed / balanced picks; the table is
# printed, results/tune-<ts>/ gets tune.json, report.md and the duration/cost-vs-memory figure.
#
#   make bench-tune                                   local Lambda, PROFILE=quick, 128,256,512,1024,1769,3008 MB
#   make bench-tune PROFILE=full MEMORY=128,512,1769 RPS=200 BALANCED_WEIGHT=0.3
#   make bench-tune LAMBDA_FUNCTION=twinserve-dev-predict AWS_REGION=eu-west-1
#                                                     the deployed function: memory set, invoked with
#                                                     LogType=Tail, original configuration restored
#   make bench-tune TUNE_ARGS='--gap-ms 100 --architecture arm64'   anything else `twinbench bench-tune --help` lists
#
# MEMORY is shared with `make cost` (mk/cost.mk sets `MEMORY ?= 1024`, one size): only a MEMORY
# given on the command line or in the environment reaches bench-tune; otherwise the profile's sizes.

BALANCED_WEIGHT ?= 0.5
TUNE_ARGS ?=
TUNE_MEMORY = $(if $(filter command line environment environment override,$(origin MEMORY)),$(strip $(MEMORY)))

# Literal path: mk/lambda-local.mk (which names it LAMBDA_VENV) is included after this file.
TUNE_DEPS := $(VENV)/.stamp $(MODEL_DIR)/metadata.json $(if $(LAMBDA_FUNCTION),,package-lambda .venv-lambda/.stamp)

TUNE_FLAGS = --profile $(or $(strip $(PROFILE)),quick) --rps $(or $(strip $(RPS)),50) \
  --balanced-weight $(BALANCED_WEIGHT) $(if $(TUNE_MEMORY),--memory '$(TUNE_MEMORY)') \
  $(if $(LAMBDA_FUNCTION),--lambda-function '$(LAMBDA_FUNCTION)') $(if $(AWS_REGION),--aws-region '$(AWS_REGION)')

.PHONY: bench-tune bench-tune-smoke

bench-tune: $(TUNE_DEPS) ## Memory power-tuning -> results/tune-<ts>/ (PROFILE=smoke|quick|full, MEMORY=128,...,3008, RPS=50, BALANCED_WEIGHT=0.5, LAMBDA_FUNCTION= AWS_REGION= for a deployed function)
	$(PY) -m twinbench bench-tune $(TUNE_FLAGS) $(TUNE_ARGS)

# CI: `make bench-tune PROFILE=smoke` on the local Lambda (3 sizes, well under 90 s), its tune.json
# validated against scripts/twinbench/results/schemas/tune.schema.json, in build/bench-tune-smoke/.
bench-tune-smoke: $(VENV)/.stamp $(MODEL_DIR)/metadata.json package-lambda .venv-lambda/.stamp ## CI check: bench-tune PROFILE=smoke on the local Lambda, schema-validated, build/bench-tune-smoke/
	rm -rf build/bench-tune-smoke
	$(PY) -m twinbench bench-tune --profile smoke --out build/bench-tune-smoke --validate --quiet

TEST_TARGETS += bench-tune-smoke
