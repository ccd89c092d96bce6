# The container next to the HTTP limit of its own server: a no-op WSGI app under the same
# gunicorn vs twinserve as its image runs it (JSON access log + Prometheus metrics on), interleaved
# wrk rounds. Target: >= 0.70 of the no-op throughput, p99 <= 1.5x. Needs wrk (the pinned Debian
# package, as bench-peers).
#
#   make bench-limit                          3 rounds x 10 s per server, with the log/metrics breakdown
#   make bench-limit LIMIT_ARGS="--rounds 1 --duration 3 --no-breakdown"   a quick look

LIMIT_ARGS ?=

.PHONY: bench-limit

bench-limit: $(VENV)/.stamp ## container vs a no-op WSGI app under the same gunicorn (wrk, interleaved): throughput ratio + p99s (LIMIT_ARGS=...)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk=$(WRK_VERSION); }
	$(PY) -m twinbench bench-limit $(LIMIT_ARGS)
