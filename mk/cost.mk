# Cost model: monthly cost of Lambda vs EKS vs Fargate and the break-even rate.
# Pure arithmetic over the pinned scripts/twinbench/cost/prices.json; needs no cloud account.
#   make cost [RPS=50] [MEMORY=1024]        constant traffic (RPS defaults to 50)
#   make cost TRACE=file.csv                the per-minute trace as it is: no --rps, no rescaling
#   make cost TRACE=file.csv RPS=20         the trace rescaled to a mean of 20 req/s (--scale 20):
#                                           with TRACE, RPS is passed only when you give it
# Extra options go through COST_ARGS, e.g. COST_ARGS='--duration-ms 9 --pod-rps 350 --json'
# or COST_ARGS='--span-minutes 1440' (`$(VENV)/bin/twinbench cost --help` lists them all).

MEMORY ?= 1024
COST_ARGS ?=
TRACE ?=

# No `RPS ?= 50`: a default would be indistinguishable from an RPS the user gave, and a trace
# must not be rescaled unless asked. RPS is empty unless set on the command line or environment.
ifneq ($(strip $(TRACE)),)
COST_TRAFFIC = --trace $(call shell_quote,$(TRACE))$(if $(strip $(RPS)), --scale $(RPS))
else
COST_TRAFFIC = --rps $(or $(strip $(RPS)),50)
endif

.PHONY: cost

cost: $(VENV)/.stamp ## Monthly cost Lambda vs EKS vs Fargate + break-even: make cost RPS=50 | TRACE=file.csv [RPS=rescale-to] [COST_ARGS=...]
	$(VENV)/bin/twinbench cost $(COST_TRAFFIC) --memory $(MEMORY) $(COST_ARGS)
