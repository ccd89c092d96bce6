"""Facts read from the Kubernetes manifests under ``k8s/``: quantities and the predictor pod's limits.

The manifests are the source: the local container runner, ``scripts/k8s_validate.py`` and the
bench's kubectl collector read limits and quantities through this package, so a limit is parsed one way.
Needs only PyYAML (``scripts/k8s_validate.py`` runs it under the tools venv too).
"""
