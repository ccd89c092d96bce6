"""Hostile input against every wrapper: ``python -m twinbench fuzz`` / ``make fuzz``.

Three wrappers, each fed at least ``n`` generated requests:

* **container** — the real gunicorn (:class:`~twinserve_support.local_container.LocalContainer`, the pod's
  config and limits), driven by ``schemathesis`` from the service's own ``/openapi.json``;
* **wsgi-lambda** — the Flask app through serverless-wsgi, run by the local Lambda emulator
  (:class:`~twinbench.local_lambda.LocalLambda`: real ``awslambdaric`` processes from the unzipped
  package ``build/lambda/pkg``, behind the HTTP API payload 2.0 front), driven by schemathesis
  over real HTTP under the ``/wsgi`` prefix as deployed;
* **native-lambda** — ``handler.handler`` called in-process with hypothesis-generated events:
  API Gateway REST v1, HTTP API v2 and Function URL shapes, base64 bodies, and malformed events.

Passing means: no response >= 500, no network-level failure, no crashed worker (gunicorn worker
PIDs unchanged and no timeout/kill in its log; no Lambda function error, runtime exit or timeout),
and every 4xx carrying ``{"error": {"code", "message"}}``. Then hand-written edge cases (bodies at
and just over each size limit, 100k-deep nesting, unicode, duplicate keys, and each feature's
hostile values from the model's input schema: numbers, strings, null) and slow clients (sockets
trickling bytes must not stop other clients being served). The edge cases and the native events
also check that no answer carries a traceback, a 4xx body is one line, and a 2xx holds no NaN.

schemathesis runs as a separate process from ``.venv-fuzz`` (its pins stay out of ``.venv``);
:mod:`twinbench.reliability.fuzz_st_hooks` counts its requests and adds the ``json_error_body`` check.
Every server started here is stopped on success, failure and Ctrl-C; all traffic is on 127.0.0.1.

The modules: :mod:`.settings`, :mod:`.oracle` (is a 4xx the JSON error body; standard library only),
:mod:`.wire` (raw HTTP), :mod:`.model_inputs` (the model's features, rows and hostile values), :mod:`.edge`, :mod:`.slow_clients`, :mod:`.schemathesis_run`, :mod:`.native`,
:mod:`.crashes` (gunicorn worker accounting) and :mod:`.runner` (the run and its summary). This file
imports none of them: the schemathesis hooks import :mod:`.oracle` alone inside ``.venv-fuzz``.
"""
