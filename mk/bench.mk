# `make bench`: Lambda vs container on cold start, warm latency, scalability, burst and cost.
# Local by default (emulated Lambda from the unzipped package + gunicorn under the pod's limits);
# LAMBDA_URL / CONTAINER_URL measure deployed endpoints instead; with LAMBDA_FUNCTION and AWS_REGION
# the cold-start scenario forces cold starts on the real function (UpdateFunctionConfiguration, then
# the original configuration restored). Writes results/<timestamp>/.

PROFILE ?= quick
SLO_MS ?= 100
LAMBDA_RUNTIME ?= awslambdaric
CONTAINER_RUNTIME ?= gunicorn
# TARGETS adds lambda-wsgi (the WSGI function of the same package; opt-in, it adds about a third to
# the run). TRACE= simulates that per-minute CSV "at your traffic" after the run (TRAFFIC_RPS= rescales
# it; without TRACE the cost rate is simulated). GENERATOR=locust drives URL targets from Locust.
# Extra flags for `python -m twinbench bench` (e.g. BENCH_ARGS='--scenarios warm,scalability --cost-rps 50').
BENCH_ARGS ?=

# Literal path: mk/lambda-local.mk (which names it LAMBDA_VENV) is included after this file.
BENCH_LAMBDA_VENV_STAMP := .venv-lambda/.stamp
# A deployed Lambda needs neither the package nor the runtime venv.
BENCH_DEPS := $(VENV)/.stamp $(MODEL_DIR)/metadata.json \
  $(if $(LAMBDA_URL),,package-lambda $(BENCH_LAMBDA_VENV_STAMP))

BENCH_FLAGS = --slo-ms $(SLO_MS) --lambda-runtime $(LAMBDA_RUNTIME) --container-runtime $(CONTAINER_RUNTIME) \
  $(if $(LAMBDA_URL),--lambda-url '$(LAMBDA_URL)') $(if $(CONTAINER_URL),--container-url '$(CONTAINER_URL)') \
  $(if $(LAMBDA_FUNCTION),--lambda-function '$(LAMBDA_FUNCTION)') $(if $(AWS_REGION),--aws-region '$(AWS_REGION)') \
  $(if $(LAMBDA_SIGV4),--lambda-sigv4) \
  $(if $(LAMBDA_WSGI_URL),--lambda-wsgi-url '$(LAMBDA_WSGI_URL)') $(if $(TARGETS),--targets '$(TARGETS)') \
  $(if $(TRACE),--trace '$(TRACE)') $(if $(TRAFFIC_RPS),--traffic-rps '$(TRAFFIC_RPS)') \
  $(if $(GENERATOR),--generator '$(GENERATOR)') $(if $(LOCUST_WORKERS),--locust-workers '$(LOCUST_WORKERS)')

.PHONY: bench bench-smoke bench-offline-smoke bench-report

bench: $(BENCH_DEPS) ## Benchmark Lambda vs container -> results/<ts>/ (PROFILE=smoke|quick|full, SLO_MS=100, LAMBDA_URL=, CONTAINER_URL=, LAMBDA_FUNCTION=, AWS_REGION=, LAMBDA_RUNTIME=awslambdaric|offline, CONTAINER_RUNTIME=gunicorn|podman, TARGETS=lambda,lambda-wsgi,container, LAMBDA_WSGI_URL=, TRACE=file.csv, TRAFFIC_RPS=, GENERATOR=builtin|locust, LOCUST_WORKERS=2)
	$(PY) -m twinbench bench --profile $(PROFILE) $(BENCH_FLAGS) $(BENCH_ARGS)

# CI: the smoke profile end to end on both local targets (<= 3 min), results.json validated
# against scripts/twinbench/results/schemas/results.schema.json, report re-rendered from it.
bench-smoke: $(VENV)/.stamp $(MODEL_DIR)/metadata.json package-lambda $(BENCH_LAMBDA_VENV_STAMP) ## CI check: PROFILE=smoke on both local targets, schema-validated results in build/bench-smoke/
	rm -rf build/bench-smoke
	$(PY) -m twinbench bench --profile smoke --out build/bench-smoke --slo-ms $(SLO_MS)
	$(PY) -m twinbench report --validate build/bench-smoke/*/

# Not in TEST_TARGETS: serverless-offline under load is slow and erratic; this only shows that
# `--lambda-runtime offline` runs end to end (osls + serverless-offline 14.8.2 + the shipped package).
bench-offline-smoke: $(VENV)/.stamp $(MODEL_DIR)/metadata.json package-lambda $(BENCH_LAMBDA_VENV_STAMP) ## serverless-offline ("no init split, no throttling") cold + warm smoke -> build/bench-offline-smoke/
	rm -rf build/bench-offline-smoke
	$(PY) -m twinbench bench --profile smoke --lambda-runtime offline --targets lambda --scenarios cold,warm \
	  --out build/bench-offline-smoke --slo-ms $(SLO_MS)
	$(PY) -m twinbench report --validate build/bench-offline-smoke/*/

bench-report: $(VENV)/.stamp ## Re-render report.md + plots from a results folder: make bench-report RESULTS=results/<ts>
	@test -n "$(RESULTS)" || { echo "usage: make bench-report RESULTS=results/<timestamp>"; exit 2; }
	$(PY) -m twinbench report --validate --print $(RESULTS)

TEST_TARGETS += bench-smoke
