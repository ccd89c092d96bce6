"""The cheapest configuration that meets an SLO on each platform, found by simulation.

``space`` lists what may be chosen (Lambda: memory, architecture, provisioned concurrency (none,
constant or an hourly schedule), reserved concurrency, SnapStart; Kubernetes: pod CPU/memory, workers, HPA range and target,
node type, node provisioner); ``search`` evaluates candidates with the trace-driven simulator,
coarse to fine with pruning (or the whole grid with ``exhaustive``); ``document`` is the
versioned ``twinbench.recommendation`` JSON and its text; ``write`` turns a choice into a
serverless.yml parameters file and a kustomize overlay.
"""
