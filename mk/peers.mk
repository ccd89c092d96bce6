# Serving peers: twinserve vs the naive blog template (baselines/) and MLServer, same
# machine, same model file, interleaved rounds. Needs wrk (Debian package, pinned) and
# .venv-mlserver (MLServer in its own venv: its pins clash with ours).
#
#   make bench-peers                     both models, 3 rounds x (wrk c=1/8/32 10 s + open-loop sweep)
#   make bench-peers PEERS_ARGS=--fast   smoke run (1 round, 2 s per point)
#   make bench-peers PEERS_ARGS=--lambda also Lambda cold init / warm duration vs the naive handler

MLSERVER_VENV := .venv-mlserver
PEERS_ARGS ?=

.PHONY: bench-peers

# wrk from Debian, pinned (WRK_VERSION in the Makefile); installed once, before pytest's wrk tests.
$(WRK_STAMP):
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk=$(WRK_VERSION); }
	mkdir -p build && touch $@
test-unit: $(WRK_STAMP)

$(MLSERVER_VENV)/.stamp: requirements/mlserver.lock
	test -x $(MLSERVER_VENV)/bin/python || $(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/python -m pip install -q --require-hashes --upgrade -r requirements/pip.lock
	$(MLSERVER_VENV)/bin/python -m pip install -q --require-hashes --no-deps -r requirements/mlserver.lock
	touch $@

bench-peers: $(VENV)/.stamp $(MLSERVER_VENV)/.stamp $(WRK_STAMP) ## twinserve vs naive template vs MLServer (wrk c=1/8/32 + open-loop, both models) -> results/peers-*/ (PEERS_ARGS=--fast|--lambda)
	$(PY) -m twinbench bench-peers $(PEERS_ARGS)
