"""twinserve prediction core: model artefact + metadata, integrity check, input contract, prediction.

Imported by both wrappers (the Lambda handlers and the Flask app). It imports no web
framework, no boto3 and — on the serving path — no scikit-learn: the fitted estimator is
compiled to ONNX at training time and served by ONNX Runtime (scikit-learn stays the source
of truth and is only imported when a model has no ONNX form).
"""

__version__ = "0.1.0"
