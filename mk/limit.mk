# The container next to the HTTP limit of its own server: a no-op WSGI app under the same
# gunicorn vs twinserve as its image runs it (JSON access log + Prometheus metrics on), interleaved
# wrk rounds. Target: >= 0.70 of the no-op throughput, p99 <= 1.5x. Needs wrk (the pinned Debian
# package, as bench-peers).
#
#   make bench-limit                          9 rounds x 5 s per server, with the breakdown (~9 min)
#   make bench-limit LIMIT_ARGS="--rounds 1 --duration 3 --no-breakdown"   a quick look
#   make bench-limit-smoke                    CI: every server of the breakdown starts and answers wrk
#                                             (1 round x 2 s; figures printed, the target not judged)

LIMIT_ARGS ?=

.PHONY: bench-limit bench-limit-smoke

bench-limit: $(VENV)/.stamp ## container vs a no-op WSGI app under the same gunicorn (wrk, interleaved): throughput ratio + p99s (LIMIT_ARGS=...)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk=$(WRK_VERSION); }
	$(PY) -m twinbench bench-limit $(LIMIT_ARGS)

bench-limit-smoke: $(VENV)/.stamp $(MODEL_DIR)/metadata.json ## CI check: bench-limit's seven servers start and answer wrk (1 round x 2 s), build/bench-limit-smoke.json
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk=$(WRK_VERSION); }
	$(PY) -m twinbench bench-limit --rounds 1 --duration 2 --warmup 0.5 --out build/bench-limit-smoke.json

TEST_TARGETS += bench-limit-smoke
