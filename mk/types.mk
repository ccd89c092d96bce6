# Static types: the prediction core (shared/) and both wrappers (services/), mypy --strict.
# The configuration (files, strictness, the untyped libraries named one by one) is pyproject.toml's
# [tool.mypy]; mypy is pinned with hashes in requirements/dev.lock.

.PHONY: types

types: $(VENV)/.stamp ## Type-check shared/ and services/ with mypy, strict (config: pyproject.toml [tool.mypy])
	$(VENV)/bin/mypy --cache-dir build/mypy-cache

TEST_TARGETS += types
