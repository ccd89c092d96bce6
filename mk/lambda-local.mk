# The default local Lambda: a Runtime API in this project driving one real
# awslambdaric process per execution environment, behind an HTTP API (payload 2.0) front.

LAMBDA_VENV := .venv-lambda
LAMBDA_PY := $(LAMBDA_VENV)/bin/python
# The Lambda python3.12 runtime's interpreter; pyenv provides 3.12.1 on these machines.
PYTHON312 ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.12.1/bin/python3.12
LAMBDA_PACKAGE ?= build/lambda/pkg
LAMBDA_HANDLER ?= handler.handler
# PORT is 8080 for the container unless given on the command line or in the environment.
LAMBDA_PORT := $(if $(filter file undefined,$(origin PORT)),9000,$(PORT))

# The runtime (not the function package) provides awslambdaric, so it lives in its own venv.
$(LAMBDA_VENV)/.stamp: requirements/lambda-runtime.txt
	test -x $(PYTHON312) || { echo "Python 3.12.1 not found at $(PYTHON312) (set PYTHON312=...)"; exit 1; }
	test -x $(LAMBDA_PY) || $(PYTHON312) -m venv $(LAMBDA_VENV)
	$(LAMBDA_PY) -c 'import sys; assert sys.version_info[:2] == (3, 12), sys.version'
	$(LAMBDA_PY) -m pip install -q --require-hashes --upgrade -r requirements/pip.lock
	$(LAMBDA_PY) -m pip install -q --require-hashes -r requirements/lambda-runtime.txt
	touch $@

.PHONY: lambda-runtime serve-lambda lambda-overhead

lambda-runtime: $(LAMBDA_VENV)/.stamp ## Create .venv-lambda: Python 3.12 with only awslambdaric (what the Lambda runtime provides)

# The default package is built (once, incrementally) by package-lambda; another LAMBDA_PACKAGE is used as is.
serve-lambda: $(VENV)/.stamp $(LAMBDA_VENV)/.stamp $(if $(filter build/lambda/pkg,$(LAMBDA_PACKAGE)),package-lambda) ## Local Lambda in the foreground on PORT (default 9000): awslambdaric per environment, 429 above LAMBDA_RESERVED_CONCURRENCY
	@test -d $(LAMBDA_PACKAGE) || { echo "no Lambda package at $(LAMBDA_PACKAGE): build it first (the unzipped sls package)"; exit 2; }
	exec $(PY) -m twinbench serve-lambda --package $(LAMBDA_PACKAGE) --handler $(LAMBDA_HANDLER) --port $(LAMBDA_PORT) \
	  $(if $(LAMBDA_MEMORY_MB),--memory-mb $(LAMBDA_MEMORY_MB)) \
	  $(if $(LAMBDA_RESERVED_CONCURRENCY),--reserved-concurrency $(LAMBDA_RESERVED_CONCURRENCY)) \
	  $(if $(LAMBDA_IDLE_S),--idle-s $(LAMBDA_IDLE_S)) $(if $(LAMBDA_TIMEOUT_S),--timeout-s $(LAMBDA_TIMEOUT_S))

lambda-overhead: $(VENV)/.stamp $(LAMBDA_VENV)/.stamp ## The local Lambda's own warm overhead: through the emulator vs the handler in-process (n, median, p99)
	$(PY) -m twinbench serve-lambda --overhead -n 500 --warmup 50

# The emulator tests run real awslambdaric processes: make test builds the runtime venv first.
test-unit: $(LAMBDA_VENV)/.stamp
