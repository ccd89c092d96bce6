"""The Open Inference Protocol V2 routes are in ``/openapi.json`` (so ``make fuzz`` drives them), and
the document says what the wrappers do: every V2 path, with its parameters set to the values the
document allows, answers 200 on every wrapper (a POST with the document's own example), and every
status the V2 cases of ``test_v2_identical`` observe is one the document lists for that route."""

from __future__ import annotations

import json
import re

from test_v2_identical import _cases

_PARAM = re.compile(r"\{([a-z_]+)\}")


def _document(callers, wrapper: str) -> dict:
    answer = callers[wrapper]("GET", "/openapi.json", b"", None)
    assert answer.status == 200
    return json.loads(answer.body)


def _expand(template: str, parameters: list[dict]) -> str:
    allowed = {p["name"]: p["schema"]["enum"][0] for p in parameters}
    return _PARAM.sub(lambda m: allowed[m.group(1)], template)


def _route_of(document: dict, path: str) -> str | None:
    """The documented template that ``path`` matches (parameters match one segment), if any."""
    for template in document["paths"]:
        pattern = "^" + _PARAM.sub("[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if re.match(pattern, path):
            return template
    return None


def test_every_v2_route_is_documented_and_answers_as_documented(callers, wrapper):
    document = _document(callers, wrapper)
    v2_paths = {p: spec for p, spec in document["paths"].items() if p == "/v2" or p.startswith("/v2/")}
    assert len(v2_paths) == 9  # server metadata, live, ready; model metadata, ready, infer, with and without version
    assert {"V2Error", "V2InferenceRequest", "V2InputTensor", "V2InferenceResponse"} <= set(document["components"]["schemas"])
    for template, operations in v2_paths.items():
        for method, operation in operations.items():
            path = _expand(template, operation.get("parameters", []))
            body = b""
            if method == "post":
                body = json.dumps(operation["requestBody"]["content"]["application/json"]["example"]).encode()
            answer = callers[wrapper](method.upper(), path, body, "application/json" if body else None)
            assert answer.status == 200, (method, path, answer.body[:200])
            assert "200" in operation["responses"]
            if method == "post":
                assert [o["name"] for o in json.loads(answer.body)["outputs"]] == ["label", "probabilities"]


def test_observed_v2_statuses_are_the_documented_ones(callers, rf_metadata):
    document = _document(callers, "gunicorn")
    undocumented, checked = [], 0
    for name, (method, path, _body, status) in _cases(rf_metadata).items():
        template = _route_of(document, path)
        if template is None or method.lower() not in document["paths"][template]:
            continue  # an unknown route or method: not part of the documented surface
        checked += 1
        if str(status) not in document["paths"][template][method.lower()]["responses"]:
            undocumented.append(f"{name}: {method} {template} -> {status}")
    assert not undocumented, undocumented
    assert checked >= 25  # the unknown model and version are documented 404s; only 4 cases are off the surface


def test_v2_path_parameters_allow_only_the_served_model(callers, rf_metadata):
    document = _document(callers, "gunicorn")
    infer = document["paths"]["/v2/models/{model_name}/versions/{model_version}/infer"]["post"]
    allowed = {p["name"]: p["schema"]["enum"] for p in infer["parameters"]}
    assert allowed == {"model_name": [rf_metadata["name"]], "model_version": [rf_metadata["version"]]}
