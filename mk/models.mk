# A model registered outside model/ is what every path that packages, builds and serves it serves:
# the Lambda zip (its import smoke checks the served model's name), the image (image_smoke checks
# the served artefact's hash) and the local Lambda emulator on that zip.
MODEL_CHECK_DIR := build/model-dir-check

.PHONY: model-dir-check

model-dir-check: $(VENV)/.stamp $(LAMBDA_VENV)/.stamp ## CI check: a second model registered elsewhere is what the zip, the image and the local Lambda serve
	rm -rf $(MODEL_CHECK_DIR) && mkdir -p $(MODEL_CHECK_DIR)
	$(PY) -c 'import sys; sys.path.insert(0, "tests/models"); from pathlib import Path; \
	  from model_shapes import write_shape; write_shape("strict-categories", Path(sys.argv[1]))' $(MODEL_CHECK_DIR)/src
	$(MAKE) --no-print-directory model-import SRC=$(MODEL_CHECK_DIR)/src/model.joblib \
	  SAMPLE=$(MODEL_CHECK_DIR)/src/sample.csv NAME=second-model MODEL_DIR=$(MODEL_CHECK_DIR)/model
	$(MAKE) --no-print-directory package-lambda MODEL_DIR=$(MODEL_CHECK_DIR)/model LAMBDA_BUILD=$(MODEL_CHECK_DIR)/lambda
	$(MAKE) --no-print-directory image-smoke MODEL_DIR=$(MODEL_CHECK_DIR)/model IMAGE=localhost/twinserve-predict:model-dir-check
	$(PY) tests/models/served_model_check.py $(MODEL_CHECK_DIR)/lambda/pkg $(MODEL_CHECK_DIR)/model

TEST_TARGETS += model-dir-check
