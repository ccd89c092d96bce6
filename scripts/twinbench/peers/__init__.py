"""``bench-peers``: twinserve against what a user would otherwise write or install.

Why: a serving stack is only worth its complexity if it beats the naive Flask template and holds
its own against MLServer on the *same* fitted estimator. Servers (``twinserve``, ``naive``,
``mlserver``, ``mlserver-batch``) run on 127.0.0.1 and are loaded in interleaved rounds with wrk at
fixed concurrency and a bounded open-loop sweep; results land in ``results/peers-<ts>/``.
Nothing here imports scikit-learn (model preparation runs in a subprocess of the project venv).
The method and figures: docs/peers.md. Modules: :mod:`.servers`, :mod:`.runner`, :mod:`.compare`,
:mod:`.lambda_part`; wrk is driven by :mod:`twinbench.measure.wrk`.
"""

HELP = """``bench-peers``: twinserve against what a user would otherwise write or install.

Servers, all on 127.0.0.1, all loading the *same* fitted estimator (the twinserve model's
``model.skops``; the peers get a joblib dump of it):

* ``twinserve``       the container app exactly as ``make serve-container`` runs it
                      (gunicorn.conf.py: nginx in front of sync workers, ONNX Runtime, /predict fast path);
* ``naive``           the blog's Flask template (``baselines/naive-container/app.py``) under
                      gunicorn with 2 sync workers -- the labelled baseline;
* ``mlserver``        MLServer 1.7.1 + mlserver-sklearn, adaptive batching off (its default);
* ``mlserver-batch``  the same with adaptive batching on (max 32 rows, 5 ms).

Load, per round and server (rounds interleave servers: A, B, C, D, A, B, C, D, ...):
wrk at fixed concurrency 1, 8, 32 for a bounded duration each (a Lua script sends the POST body
and prints wrk's own summary as one JSON line), then a bounded open-loop rate sweep with
:class:`twinbench.measure.loadgen.LoadGenerator` (latency from the intended send time; the sweep stops at
the first saturated step). Between servers the bench waits until the last server's processes are
idle, so a backlog left by an overloaded server does not eat the next one's CPU.

Reported per model: medians over rounds of throughput (rps), p50 and p99 at each concurrency,
ratios against twinserve at c=32 and each target marked PASS/FAIL. Everything lands in
``results/peers-<timestamp>/results.json`` (raw per-round numbers included).

Nothing here imports scikit-learn: model preparation runs in a subprocess of the project venv.

The modules: :mod:`.servers` (specs, processes, model files), :mod:`.runner` (one model's rounds and
sweep), :mod:`.compare` (medians, ratios, verdicts, tables) and :mod:`.lambda_part`; wrk itself is
driven by :mod:`twinbench.measure.wrk`.
"""
"""``bench-peers --help``: the servers, the load, what is reported."""
