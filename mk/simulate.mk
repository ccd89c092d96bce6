# Trace-driven simulation of both platforms (per request): cold starts, 429/503s, latency,
# autoscaling and the monthly cost from simulated billed GB-s and node-hours.
#   make simulate TRACE=traffic.csv [SIM_ARGS='--from results/<ts> --plot sim.png --json']
#   make simulate SIM_ARGS='--profile diurnal --rps 50'          (no TRACE: a generated profile)
#   make simulate-bench     one day at 1,000 req/s (86.4 M requests): seconds and peak RSS
#   make simulate-figures   steady / bursty / sparse: simulated vs per-minute cold starts, autoscaled vs peak-sized cost
# `$(VENV)/bin/twinbench simulate --help` lists every option.

TRACE ?=
SIM_ARGS ?=

.PHONY: simulate simulate-bench simulate-figures

simulate: $(VENV)/.stamp ## Per-request simulation on Lambda and Kubernetes: make simulate TRACE=file.csv [SIM_ARGS=...]
	$(VENV)/bin/twinbench simulate $(if $(TRACE),--trace $(TRACE)) $(SIM_ARGS)

simulate-bench: $(VENV)/.stamp ## Simulator speed: one day at 1,000 req/s on both platforms (target <= 60 s, <= 2 GiB)
	$(VENV)/bin/twinbench simulate --bench $(SIM_ARGS)

simulate-figures: $(VENV)/.stamp ## Steady/bursty/sparse traces: simulated vs per-minute cold starts, autoscaled vs peak-sized cost
	$(PY) -m twinbench.simulate.figures $(SIM_ARGS)
