"""Trace-driven, per-request simulation of the model on AWS Lambda and on Kubernetes.

Why: a 2-core machine cannot show how either platform scales, and a per-minute model
miscounts cold starts (it misses bursts inside a minute and invents them from fractional
concurrency) and never autoscales the container fleet. This package replays a traffic
profile request by request on models of both platforms (``lambda_sim``, ``kube_sim``),
parameterised by what ``make bench`` measured (``inputs``), and prices what happened.

Entry points: ``engine.simulate(SimulationConfig)`` -> ``SimulationResult.to_document()``
(schema: ``schema.json``); the CLI is ``twinbench.cli.simulate`` (``twinbench simulate``).
"""
