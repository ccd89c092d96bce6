# The container next to the HTTP limit of its own server: a no-op WSGI app under exactly the same
# arrangement (gunicorn.conf.py: nginx in front of sync workers) vs twinserve as its image runs it
# (JSON access log + Prometheus metrics on), and the edge it replaced (a git worktree of the last
# commit with the custom buffered worker), each with keep-alive and with closing clients, in
# interleaved wrk rounds. Targets: >= 0.85 of the no-op throughput and p99 <= 1.3x for both client
# kinds; against the replaced edge, as fast with keep-alive clients and at most 10 % slower with
# closing ones. A second table gives each server's CPU per request by process role (gunicorn workers,
# nginx, wrk), the figure to read on a shared machine. Needs wrk (the pinned Debian package, as
# bench-peers) and nginx (as the image).
#
#   make bench-limit                          9 rounds x 5 s per server and client kind, with the breakdown (~25 min)
#   make bench-limit LIMIT_ARGS="--rounds 1 --duration 3 --no-breakdown"   a quick look
#   make bench-limit-smoke                    CI: every server of the breakdown starts and answers wrk
#                                             (1 round x 2 s; figures printed, the target not judged)
#   BENCH_LIMIT_OLD_COMMIT=<commit>           the old edge to compare with (empty: none, e.g. in a shallow clone)

LIMIT_ARGS ?=

.PHONY: bench-limit bench-limit-smoke

bench-limit: $(VENV)/.stamp $(NGINX_STAMP) $(WRK_STAMP) ## container vs a no-op WSGI app on the same edge and vs the replaced edge (wrk, keep-alive + closing clients): ratios + p99s (LIMIT_ARGS=...)
	$(PY) -m twinbench bench-limit $(LIMIT_ARGS)

bench-limit-smoke: $(VENV)/.stamp $(MODEL_DIR)/metadata.json $(NGINX_STAMP) $(WRK_STAMP) ## CI check: bench-limit's seven servers start and answer wrk, both client kinds (1 round x 2 s), build/bench-limit-smoke.json
	$(PY) -m twinbench bench-limit --rounds 1 --duration 2 --warmup 0.5 --out build/bench-limit-smoke.json

TEST_TARGETS += bench-limit-smoke
