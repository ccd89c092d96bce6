"""What the product's tooling and tests share with the bench: repository paths, Kubernetes facts,
real-shaped Lambda events, the process helper and the local runners of the container.

The product (``scripts/k8s_validate.py``, ``scripts/image_smoke.py``, ``scripts/lambda_package_tool.py``
and the product's tests) imports from here; the bench imports from here too. Nothing here imports
``twinbench``, so the product stands without the bench (``tests/test_dependency_direction.py``).
"""
