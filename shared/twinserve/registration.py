"""Registering a fitted estimator: its input schema, its trusted artefact, an ONNX form where one is
proved equal on the user's rows, sample rows, and everything pinned in ``metadata.json``.

Registration-time only (scikit-learn, skops, skl2onnx, pandas); the serving path never imports it.
"""

from __future__ import annotations

import contextlib
import json
import platform
import re
import shutil
import sys
import tempfile
import warnings
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from twinserve.errors import RegistrationError
from twinserve.integrity import sha256_bytes
from twinserve.metadata import METADATA_FILE, METADATA_SCHEMA, classes_per_output
from twinserve.samples import KEPT_ROWS, SAMPLES_FILE
from twinserve.schema import InputSchema
from twinserve.trusted_types import TRUSTED_SKOPS_TYPES

EQUIVALENCE_ROWS = 10_000
_LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas", "skops", "skl2onnx", "onnx", "onnxruntime", "joblib")


def call_model(estimator: Any, schema: InputSchema, frame: Any) -> tuple[Any, np.ndarray | None]:
    """(predictions, probabilities or None) of ``estimator`` on ``frame`` (a DataFrame with the
    schema's columns), called the way it was fitted: as a DataFrame, a document list or a matrix."""
    if schema.layout == "documents":
        rows: Any = list(frame[schema.names[0]])
    elif schema.layout == "dataframe":
        rows = frame[list(schema.names)]
    else:
        rows = frame[list(schema.names)].to_numpy(dtype=np.float64)
    predictions = estimator.predict(rows)
    proba = estimator.predict_proba(rows) if has_proba(estimator) else None
    return predictions, proba


def has_proba(estimator: Any) -> bool:
    """Whether the model answers one [N, classes] probability matrix. A multi-output classifier's
    predict_proba answers a list of them, one per output: it is served labels only."""
    labels = output_labels(estimator)
    return labels is not None and not classes_per_output(labels) and hasattr(estimator, "predict_proba")


def is_classifier(estimator: Any) -> bool:
    """Whether ``predict`` answers labels from a fixed set (see :func:`output_labels`)."""
    return output_labels(estimator) is not None


def output_labels(estimator: Any) -> list[Any] | None:
    """The labels ``predict`` can answer, or None for a regressor. A classifier's ``classes_``;
    an outlier detector's -1 (outlier) and 1 (inlier); a clusterer's cluster ids. The last two
    are labels too: served as numbers, they would come back as -1.0 from one backend and -1 from
    the other, and a client could not tell a cluster id from a measurement."""
    from sklearn.base import is_classifier as sklearn_is_classifier
    from sklearn.base import is_clusterer, is_outlier_detector

    classes = getattr(estimator, "classes_", None)
    if isinstance(classes, list) and classes and all(isinstance(c, np.ndarray) for c in classes):
        # Fitted on several label columns (MultiOutputClassifier, a forest on a 2-D y): per output.
        return [[c.item() if hasattr(c, "item") else c for c in output] for output in classes]
    if classes is not None:
        return [c.item() if hasattr(c, "item") else c for c in classes]
    if is_outlier_detector(estimator):
        return [-1, 1]
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    centers = getattr(final, "cluster_centers_", None)
    if is_clusterer(estimator) and centers is not None:
        return list(range(len(centers)))
    components = getattr(final, "n_components", None)
    if hasattr(final, "means_") and isinstance(components, int):  # a Gaussian mixture: component ids
        return list(range(components))
    return [] if sklearn_is_classifier(estimator) else None


# Code a registered model may call by reference: the libraries every server ships, and Python's own.
_SERVED_LIBRARIES = frozenset({"sklearn", "numpy", "scipy", "joblib", "threadpoolctl", "skops"})


def foreign_code(types: list[str]) -> list[str]:
    """The types in a skops artefact that name code of the user's own (a FunctionTransformer's
    function from their script or module, a lambda) or of a library the servers do not ship
    (xgboost, lightgbm): skops stores a reference, never the code, so the model could not load
    where it is deployed."""
    return [t for t in types if t.split(".", 1)[0] not in _SERVED_LIBRARIES | set(sys.stdlib_module_names)
            or "<lambda>" in t or "<locals>" in t]


def _foreign_code_message(foreign: list[str]) -> str:
    """Say which of the user's own code or which unshipped library the model calls."""
    installed = importlib_metadata.packages_distributions()
    libraries = sorted({t.split(".", 1)[0] for t in foreign} & set(installed) - {"__main__"})
    if libraries:
        return (f"the model uses {', '.join(libraries)} ({', '.join(foreign[:3])}), which the servers do not ship: "
                "twinserve serves scikit-learn models (scikit-learn, numpy and scipy)")
    return (f"the model calls your own code ({', '.join(foreign[:5])}), which no server ships and skops "
            "cannot store; use a scikit-learn or numpy function (FunctionTransformer(np.log1p), say) "
            "or apply it to the data before the model")


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            versions[name] = importlib_metadata.version(name)
    return versions


def _json_value(value: Any) -> Any:
    """A cell of a sample row as JSON: numpy scalars as Python ones, NaN/NA/None as null."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    with contextlib.suppress(TypeError, ValueError):
        import pandas as pd

        if pd.isna(value):
            return None
    return value


def sample_records(frame: Any, schema: InputSchema, n_rows: int = KEPT_ROWS) -> list[dict[str, Any]]:
    """Up to ``n_rows`` rows of ``frame`` by feature name, JSON-ready, in the kinds of the schema."""
    records = []
    for _, row in frame.head(n_rows).iterrows():
        record = {}
        for feature in schema.features:
            value = _json_value(row[feature.name])
            if value is not None and feature.kind == "integer":
                value = int(value)
            elif value is not None and feature.kind == "number":
                value = float(value)
            elif value is not None and feature.kind == "string":
                value = str(value)
            elif value is not None and feature.kind == "boolean":
                value = bool(value)
            record[feature.name] = value
        records.append(record)
    return records


def extra_trusted_types(source_bytes: bytes) -> list[str]:
    """The types the skops artefact needs beyond the reviewed base list (recorded in metadata)."""
    import skops.io as sio

    return sorted(t for t in sio.get_untrusted_types(data=source_bytes) if t not in TRUSTED_SKOPS_TYPES)


def _estimator_name(estimator: Any) -> str:
    if hasattr(estimator, "steps"):
        return "Pipeline(" + ",".join(type(s).__name__ for _, s in estimator.steps) + ")"
    return type(estimator).__name__


def register(
    estimator: Any,
    out_dir: Path,
    *,
    name: str,
    schema: InputSchema,
    check_rows: Any,
    sample_rows: list[dict[str, Any]],
    samples_source: str,
    metrics: dict[str, float] | None = None,
    source_format: str = "skops",
    onnx: bool = True,
) -> dict[str, Any]:
    """Write artefacts + metadata into ``out_dir`` atomically (a half-written model never serves).

    ``check_rows``: a DataFrame with the schema's columns on which an ONNX form must equal the
    estimator to be kept (``onnx=False``: none is tried). ``sample_rows``: rows by name kept
    beside the model (samples.json).
    """
    import skops.io as sio

    from twinserve.onnx_compile import compile_to_onnx

    if source_format == "skops":
        source_bytes, source_name = sio.dumps(estimator), "model.skops"
        trusted_extra = extra_trusted_types(source_bytes)
        foreign = foreign_code(trusted_extra)
        if foreign:
            raise RegistrationError(_foreign_code_message(foreign))
    elif source_format == "joblib":
        import io

        import joblib

        buffer = io.BytesIO()
        joblib.dump(estimator, buffer)
        source_bytes, source_name, trusted_extra = buffer.getvalue(), "model.joblib", []
    else:
        raise ValueError(f"source_format must be skops or joblib, not {source_format!r}")

    labels = output_labels(estimator)
    classifier = labels is not None
    task = "classification" if classifier else "regression"
    if onnx:
        compiled, equivalence = compile_to_onnx(estimator, schema, check_rows, task)
    else:
        compiled, equivalence = None, {"rows": 0, "tried": []}
    source_sha = sha256_bytes(source_bytes)
    created = datetime.now(UTC)
    samples_bytes = (json.dumps({"source": samples_source, "rows": sample_rows}, indent=1) + "\n").encode()
    artefacts: dict[str, Any] = {
        "source": {"path": source_name, "format": source_format, "sha256": source_sha},
        "samples": {"path": SAMPLES_FILE, "format": "json", "sha256": sha256_bytes(samples_bytes)},
    }
    if compiled is not None:
        artefacts["serving"] = {
            "path": "model.onnx",
            "format": "onnx",
            "sha256": sha256_bytes(compiled.data),
            "input_dtype": compiled.input_dtype,
            "round_inputs_to_float32": compiled.round_inputs_to_float32,
            "inputs": compiled.inputs,
        }
    else:
        reasons = "; ".join(f"{t['variant']}: {t.get('error', 'outputs differ')}" for t in equivalence["tried"])
        equivalence["error"] = f"no ONNX form equals the estimator, so scikit-learn serves it ({reasons or 'none tried'})"
    first = sample_rows[0] if sample_rows else None
    document = {
        "schema": METADATA_SCHEMA,
        "name": name,
        "version": f"{created:%Y%m%d%H%M%S}-{source_sha[:8]}",
        "estimator": _estimator_name(estimator),
        "task": task,
        "feature_names": list(schema.names),
        "n_features": len(schema.names),
        "input_schema": schema.to_dict(),
        "classes": labels or [],
        "has_proba": has_proba(estimator),
        "sha256": source_sha,
        "backend": "onnxruntime" if compiled is not None else "scikit-learn",
        "trusted_types": trusted_extra,
        "artefacts": artefacts,
        "metrics": metrics or {},
        "equivalence": equivalence,
        "libraries": _library_versions(),
        "created_at": created.isoformat(),
    }
    if first is not None and schema.numeric_matrix:
        document["example_row"] = [float(first[n]) for n in schema.names]
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model-", dir=out_dir.parent))
    (staging / source_name).write_bytes(source_bytes)
    (staging / SAMPLES_FILE).write_bytes(samples_bytes)
    if compiled is not None:
        (staging / "model.onnx").write_bytes(compiled.data)
    (staging / METADATA_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return document


def _check_on_sample(estimator: Any, schema: InputSchema, frame: Any, drawn: bool = False) -> None:
    """RegistrationError (one line) when the model fails on ``frame``: the SAMPLE's rows, or
    (``drawn``) rows drawn from what it learned, which only a SAMPLE can replace."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call_model(estimator, schema, frame)
    except Exception as exc:  # the user's model: any failure is theirs to see, in one line
        message = " ".join(str(exc).split())[:300]
        if drawn:
            raise RegistrationError(
                "without a SAMPLE the model is checked on rows drawn from what it learned, and it fails on them "
                f"({type(exc).__name__}: {message}); give SAMPLE=rows.csv with real rows of your data") from None
        raise RegistrationError(f"the model fails on the sample rows: {type(exc).__name__}: {message}") from None


def import_estimator(src: Path, out_dir: Path, name: str | None = None, sample_path: Path | None = None,
                     text_column: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Register a user's fitted estimator from a joblib/pickle or skops file; returns (metadata, warnings).

    Raises RegistrationError (one line) for anything that stops registration.
    """
    from twinserve.schema_infer import (
        check_fitted,
        infer_schema,
        probe,
        read_sample,
        synthetic_rows,
        unlisted_closed,
    )

    notes: list[str] = []
    estimator = load_source(src)
    check_fitted(estimator)
    notes += _label_notes(estimator)
    sample = read_sample(sample_path) if sample_path is not None else None
    if text_column is not None and sample is not None and text_column not in sample.columns:
        raise RegistrationError(f"SAMPLE has no column {text_column!r} (TEXT_COLUMN); it has {', '.join(map(str, sample.columns[:20]))}")
    schema, unused = infer_schema(estimator, sample, text_column)
    recoded = tuple(f.name for f in schema.features if f.kind == "string" and sample is not None
                    and sample[f.name].dtype.kind != "O")
    if recoded and sample_path is not None:  # read again with those columns as the strings they are
        sample = read_sample(sample_path, recoded)
    if unused:
        notes.append(f"SAMPLE columns the model does not use (ignored): {', '.join(unused[:20])}")
    if sample is None:
        notes.append("no SAMPLE given: the model is checked on rows drawn from what it learned, not on your data; "
                     "give SAMPLE=rows.csv for checks and benchmarks on real inputs")
        base = synthetic_rows(schema, estimator, None, 64, seed=0, unseen=False)
        _check_on_sample(estimator, schema, base, drawn=True)
        schema = probe(estimator, schema, base, ask_missing=True)
        drawn = synthetic_rows(schema, estimator, None, EQUIVALENCE_ROWS, seed=1)
        sample_frame = drawn.head(KEPT_ROWS)
        check_rows = drawn
        source = "synthetic"
    else:
        frame = sample[list(schema.names)]
        _check_on_sample(estimator, schema, frame)
        schema = probe(estimator, schema, frame, ask_missing=False)
        import pandas as pd

        drawn = synthetic_rows(schema, estimator, frame, max(EQUIVALENCE_ROWS - len(frame), 1000), seed=1)
        check_rows = pd.concat([frame.head(EQUIVALENCE_ROWS), drawn], ignore_index=True)
        sample_frame = frame
        source = str(sample_path.name) if sample_path else "sample"
    # Drawn rows may hold what the model refuses (an integer through a closed encoder, say):
    # keep only rows it answers, so the ONNX check compares answers, not refusals.
    check_rows = _answerable(estimator, schema, check_rows)
    closed_unlisted = unlisted_closed(estimator, schema, sample_frame)
    if closed_unlisted:
        notes.append(f"the model refuses values it does not know in {', '.join(closed_unlisted[:10])}, but no encoder "
                     "the registrar can read lists them: scikit-learn serves it, and refuses such values itself (422)")
    document = register(estimator, out_dir, name=name or src.stem, schema=schema, check_rows=check_rows,
                        sample_rows=sample_records(sample_frame, schema), samples_source=source,
                        onnx=not closed_unlisted)
    return document, notes


def load_source(src: Path) -> Any:
    """The user's estimator from a joblib/pickle file or a skops file (``.skops``, a zip archive).

    Loading runs whatever code the file holds (a pickle) or builds every type it names (skops,
    trusted as a whole) — acceptable here only because it is the user's own file on their own
    machine; the registered copy is re-written as skops and served under the reviewed trust list.
    """
    if not src.is_file():
        raise RegistrationError(f"{src} does not exist" if not src.exists() else f"{src} is not a file")
    try:
        with src.open("rb") as handle:
            skops_file = handle.read(4) == b"PK\x03\x04"  # a zip archive: skops, never a pickle
        if skops_file:
            import skops.io as sio

            return sio.load(src, trusted=sio.get_untrusted_types(file=src))
        import joblib

        return joblib.load(src)
    except ModuleNotFoundError as exc:  # a package the model was built with, or the user's own module
        name = exc.name or str(exc)
        reason = _other_version(name, f"it has no module {name}") or _missing_module(name)
        raise RegistrationError(f"cannot load {src}: {reason}") from None
    except AttributeError as exc:  # a function or class of the user's script (pickled as __main__.name)
        detail = " ".join(str(exc).split())
        found = re.search(r"attribute '([^']+)' on <module '([^']+)'", detail)
        moved = _other_version(found[2], f"{found[2]} has no {found[1]}") if found else None
        raise RegistrationError(f"cannot load {src}: " + (moved or (
            f"it refers to code defined in your own script or module ({detail[:150]}); "
            "no server could run it either: use scikit-learn or numpy functions in the model"))) from None
    except Exception as exc:  # a file that is not a joblib/pickle/skops file of a model
        detail = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        raise RegistrationError(f"cannot load {src}: it is not a joblib, pickle or skops model file ({detail})") from None


def _other_version(module: str, what: str) -> str | None:
    """When ``module`` belongs to an installed library (a path scikit-learn has since moved or
    removed): that the model was saved with another version of it, else None."""
    main = sys.modules.get("__main__")
    if module in ("__main__", getattr(getattr(main, "__spec__", None), "name", None)):
        return None  # the user's script: pickled as __main__, looked up in whatever runs as __main__ here
    top = module.split(".", 1)[0]
    distributions = importlib_metadata.packages_distributions().get(top)
    if not distributions:
        return None
    version = importlib_metadata.version(distributions[0])
    return (f"it was saved with another version of {distributions[0]} than the {version} installed here ({what}); "
            f"load it where it was fitted and save it again with {distributions[0]} {version}, or refit it")


def _missing_module(name: str) -> str:
    top = name.split(".", 1)[0]
    return (f"it needs the Python module {top!r}, which is not installed here: a library the model was built "
            "with (twinserve serves scikit-learn models; the servers ship scikit-learn, numpy and scipy) "
            "or a module of your own, which no server has either")


def _label_notes(estimator: Any) -> list[str]:
    from sklearn.base import is_outlier_detector

    if is_outlier_detector(estimator):
        return [f"{_estimator_name(estimator)} is an outlier detector: it answers the label -1 (outlier) or 1 (inlier)"]
    if getattr(estimator, "classes_", None) is None and output_labels(estimator):
        return [f"{_estimator_name(estimator)} answers the id of a cluster (or mixture component) as a label"]
    return []


def _answerable(estimator: Any, schema: InputSchema, frame: Any, chunk: int = 500) -> Any:
    """The rows of ``frame`` the model answers, dropped chunk by chunk, then row by row."""
    import pandas as pd

    kept = []
    for start in range(0, len(frame), chunk):
        part = frame.iloc[start:start + chunk]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call_model(estimator, schema, part)
            kept.append(part)
        except Exception:  # some row of the chunk is refused: find which
            for i in range(len(part)):
                row = part.iloc[i:i + 1]
                with contextlib.suppress(Exception), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    call_model(estimator, schema, row)
                    kept.append(row)
    return pd.concat(kept, ignore_index=True) if kept else frame.head(0)


def print_summary(document: dict[str, Any], out_dir: Path, notes: list[str] | None = None) -> None:
    err = sys.stderr
    for note in notes or []:
        print(f"warning: {note}", file=err)
    print(f"registered {document['name']} {document['version']} in {out_dir}", file=err)
    schema = InputSchema.from_dict(document["input_schema"])
    kinds = ", ".join(f"{f.name}:{f.kind}{'?' if f.nullable else ''}" for f in schema.features[:12])
    more = f", ... ({len(schema.features)} in all)" if len(schema.features) > 12 else ""
    print(f"  estimator: {document['estimator']} ({document['task']}), input {schema.layout}: {kinds}{more}", file=err)
    if document["classes"]:
        print(f"  classes: {document['classes']}", file=err)
    if document["metrics"]:
        print(f"  accuracy: train {document['metrics']['train_accuracy']:.4f}, held-out {document['metrics']['heldout_accuracy']:.4f}", file=err)
    print(f"  source: {document['artefacts']['source']['path']} sha256 {document['sha256']}", file=err)
    if document["trusted_types"]:
        print(f"  trusted beyond the reviewed base list (review them; recorded in metadata.json): "
              f"{', '.join(document['trusted_types'])}", file=err)
    eq = document["equivalence"]
    if document["artefacts"].get("serving"):
        diff = (f"max relative diff {eq['max_relative_diff']:.2e}" if "max_relative_diff" in eq else
                f"{eq['label_mismatches']} label mismatches, max |dp| {eq['max_proba_abs_diff']:.2e}")
        print(f"  serving: model.onnx ({eq['variant']}), equal on {eq['rows']} rows: {diff}", file=err)
    else:
        print(f"  serving: scikit-learn — {eq.get('error', 'no ONNX form')[:400]}", file=err)
