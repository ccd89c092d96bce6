# Cost model: monthly cost of Lambda vs EKS vs Fargate and the break-even rate.
# Pure arithmetic over the pinned scripts/twinbench/prices.json; needs no cloud account.
# Extra options go through COST_ARGS, e.g. COST_ARGS='--duration-ms 9 --pod-rps 350 --json'
# (`$(PY) -m twinbench cost --help` lists them all).

RPS ?= 50
MEMORY ?= 1024
COST_ARGS ?=

.PHONY: cost

cost: $(VENV)/.stamp ## Monthly cost Lambda vs EKS vs Fargate + break-even: make cost RPS=50 MEMORY=1024 [COST_ARGS='--arch arm64']
	$(PY) -m twinbench cost --rps $(RPS) --memory $(MEMORY) $(COST_ARGS)
