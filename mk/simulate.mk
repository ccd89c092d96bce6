# Trace-driven simulation of both platforms (per request): cold starts, 429/503s, latency,
# autoscaling and the monthly cost from simulated billed GB-s and node-hours.
#   make simulate TRACE=traffic.csv [SIM_ARGS='--from results/<ts> --plot sim.png --json']
#   make simulate SIM_ARGS='--profile diurnal --rps 50'          (no TRACE: a generated profile)
#   make simulate-bench     one day at 1,000 req/s (86.4 M requests): seconds and peak RSS
#   make simulate-figures   steady / bursty / sparse: simulated vs per-minute cold starts, autoscaled vs peak-sized cost
#   make simulate-calibrate the simulator against the real local stack (local Lambda + gunicorn), same arrivals
#                           [CALIBRATE_ARGS='--short | --json --out calibration.json | --sim-keep-alive-s 100']
# `$(VENV)/bin/twinbench simulate --help` lists every option.

TRACE ?=
SIM_ARGS ?=

.PHONY: simulate simulate-bench simulate-figures simulate-calibrate
CALIBRATE_ARGS ?=

simulate: $(VENV)/.stamp ## Per-request simulation on Lambda and Kubernetes: make simulate TRACE=file.csv [SIM_ARGS=...]
	$(VENV)/bin/twinbench simulate $(if $(TRACE),--trace $(call shell_quote,$(TRACE))) $(SIM_ARGS)

simulate-bench: $(VENV)/.stamp ## Simulator speed: one day at 1,000 req/s on both platforms (target <= 60 s, <= 2 GiB)
	$(VENV)/bin/twinbench simulate --bench $(SIM_ARGS)

simulate-figures: $(VENV)/.stamp ## Steady/bursty/sparse traces: simulated vs per-minute cold starts, autoscaled vs peak-sized cost
	$(PY) -m twinbench.simulate.figures $(SIM_ARGS)

# Needs the Lambda runtime venv, the built package and the model (the same as make test builds).
simulate-calibrate: $(VENV)/.stamp $(LAMBDA_VENV)/.stamp $(MODEL_DIR)/metadata.json package-lambda ## Replay a bursty schedule on the local Lambda and gunicorn and in the simulator: cold starts, 429s, p50/p99 within stated tolerances (exit 1 if not)
	$(VENV)/bin/twinbench calibrate $(CALIBRATE_ARGS)
