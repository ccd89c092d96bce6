# Reliability: hostile input (make fuzz), long runs (make soak), no secrets in the repo
# (make secrets-scan, part of make test). schemathesis lives in its own venv (.venv-fuzz) and runs
# as a separate process against the servers the fuzz driver starts; traffic stays on 127.0.0.1.

FUZZ_VENV := .venv-fuzz
FUZZ_N ?= 10000
SOAK_S ?= 600
# Literal path: mk/lambda-local.mk names it LAMBDA_VENV.
RELIABILITY_LAMBDA_VENV_STAMP := .venv-lambda/.stamp
# What the secrets scan skips: installed environments and generated, git-ignored output, never our sources.
SECRETS_SKIP := \.venv.* node_modules build results model \.serverless \.git \.pytest_cache \.hypothesis \.ruff_cache __pycache__
# Without --enable-secret-scan-all-files checkov's directory mode reads only IaC file types (no .py, .sh, ...).
SECRETS_FLAGS := --framework secrets --enable-secret-scan-all-files --skip-download --compact --quiet
SECRETS_CANARY := build/secrets-canary

$(FUZZ_VENV)/.stamp: requirements/fuzz.lock
	test -x $(FUZZ_VENV)/bin/python || $(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install -q --require-hashes --upgrade -r requirements/pip.lock
	$(FUZZ_VENV)/bin/python -m pip install -q --require-hashes -r requirements/fuzz.lock
	touch $@

# The bench caps the local Lambda at cores / vCPU-per-environment (3 here) so its cold starts do not
# steal the warm ones' CPU; at that cap, short latency spikes under a steady 70 % load turn into 429s
# that real Lambda (which would start another environment) never gives. The soak is about errors,
# drift and leaks, so it lets the local Lambda scale out as Lambda does.
SOAK_LAMBDA_ENVIRONMENTS ?= 16
# For the same reason the soak keeps the environments it scaled out to (idle reaping after an
# hour, not 5 min). With reaping, the environments only the saturation probe needed go after
# 5 min; the next latency spike then starts several cold at once, their inits take the two
# cores from the warm ones, and the cascade hits the cap (measured: 387 429s within one minute,
# then 24 more and no cold start in the rest of that soak). It also keeps RSS growth measured over
# the same processes from start to end. `make bench` keeps Lambda's 5-min reaping.
SOAK_LAMBDA_IDLE_S ?= 3600

# Faults under load. A stalled Lambda environment takes one slot; real Lambda would start another
# where the default local cap (cores / vCPU) answers 429, so chaos lets it scale out as the soak does.
CHAOS_LAMBDA_ENVIRONMENTS ?= 16

.PHONY: fuzz soak chaos secrets-scan

fuzz: $(VENV)/.stamp $(FUZZ_VENV)/.stamp $(MODEL_DIR)/metadata.json package-lambda $(RELIABILITY_LAMBDA_VENV_STAMP) ## Hostile input: schemathesis on gunicorn + WSGI Lambda, hypothesis events on the native handler, edge cases, slow clients (FUZZ_N=10000 per wrapper)
	$(PY) -m twinbench fuzz -n $(FUZZ_N)

soak: $(VENV)/.stamp $(MODEL_DIR)/metadata.json package-lambda $(RELIABILITY_LAMBDA_VENV_STAMP) ## Open loop at 70% of saturation on container + local Lambda: errors, p99 drift, RSS growth < 5% (SOAK_S=600 per target)
	LAMBDA_ACCOUNT_CONCURRENCY=$(SOAK_LAMBDA_ENVIRONMENTS) LAMBDA_IDLE_S=$(SOAK_LAMBDA_IDLE_S) $(PY) -m twinbench soak --duration-s $(SOAK_S)

chaos: $(VENV)/.stamp $(MODEL_DIR)/metadata.json package-lambda $(RELIABILITY_LAMBDA_VENV_STAMP) ## Faults under load at half of saturation: gunicorn worker/master SIGKILL, worker OOM, stall; Lambda env SIGKILL, failing init, timeout; target gone; SIGINT/SIGTERM mid-run (~5 min)
	$(PY) -m twinbench chaos --lambda-environments $(CHAOS_LAMBDA_ENVIRONMENTS)

# A scan that finds nothing must first show it can find something: a canary key, made up at run
# time (a committed one would itself be a finding), has to fail the same scan.
secrets-scan: $(TOOLS_VENV)/.stamp ## checkov secrets scan of the repo, all file types (venvs, node_modules, build, results skipped): 0 failed
	@rm -rf $(SECRETS_CANARY) && mkdir -p $(SECRETS_CANARY)
	@$(PY) -c 'import secrets, string; a = string.ascii_uppercase + "234567"; b = string.ascii_letters + string.digits; print("aws_access_key_id = \"AKIA" + "".join(secrets.choice(a) for _ in range(16)) + "\"\naws_secret_access_key = \"" + "".join(secrets.choice(b) for _ in range(40)) + "\"")' > $(SECRETS_CANARY)/canary.py
	@if $(TOOLS_BIN)/checkov $(SECRETS_FLAGS) --directory $(SECRETS_CANARY) >/dev/null 2>&1; then \
	  echo "secrets-scan: checkov did not flag the canary key; the scan below would prove nothing"; exit 1; fi
	@rm -rf $(SECRETS_CANARY)
	$(TOOLS_BIN)/checkov $(SECRETS_FLAGS) --directory . $(foreach p,$(SECRETS_SKIP),--skip-path '$(p)')
	@echo "secrets-scan: 0 failed (canary detected, repo clean)"

# The fast fuzz tests (tests/reliability/) drive schemathesis from .venv-fuzz.
test-unit: $(FUZZ_VENV)/.stamp

TEST_TARGETS += secrets-scan
