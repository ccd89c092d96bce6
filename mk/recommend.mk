# The cheapest configuration meeting an SLO on each platform, searched by simulation, and the files
# to deploy it.
#   make recommend TRACE=traffic.csv SLO_MS=100 [SLO_PCT=99] [ERROR_BUDGET=0.001] [OUT=rec.json] [WRITE=DIR]
#                  [RECOMMEND_ARGS='--from results/<ts> --exhaustive --azure day.csv --pareto-plot p.png']
# `$(VENV)/bin/twinbench recommend --help` lists every option; docs/recommend.md explains the search.

# No default objective: the latency target is the user's. mk/bench.mk's `SLO_MS ?= 100` is the
# bench's default, so only an SLO_MS given on the command line or in the environment counts here.
RECOMMEND_SLO_MS = $(if $(filter file default undefined,$(origin SLO_MS)),,$(strip $(SLO_MS)))
SLO_PCT ?= 99
ERROR_BUDGET ?= 0.001
OUT ?=
WRITE ?=
RECOMMEND_ARGS ?=

.PHONY: recommend

recommend: $(VENV)/.stamp ## Cheapest config meeting the SLO per platform: make recommend TRACE=f.csv SLO_MS=100 [OUT=rec.json WRITE=DIR]
	@test -n $(call shell_quote,$(RECOMMEND_SLO_MS)) || { echo "make recommend: give SLO_MS=<ms> (the latency objective at SLO_PCT)" >&2; exit 2; }
	$(VENV)/bin/twinbench recommend $(if $(TRACE),--trace $(call shell_quote,$(TRACE))) \
	  --slo-ms $(call shell_quote,$(RECOMMEND_SLO_MS)) --slo-pct $(SLO_PCT) --error-budget $(ERROR_BUDGET) \
	  $(if $(OUT),--out $(call shell_quote,$(OUT))) $(if $(WRITE),--write $(call shell_quote,$(WRITE))) $(RECOMMEND_ARGS)
