"""Remote tuning against moto (configuration: set memory, wait, restore) and canned Invoke answers
(the REPORT line in LogResult), including restore after an error, Ctrl-C and SIGTERM."""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal

import boto3
import pytest
from botocore.stub import ANY, Stubber
from tune_stand_in import (
    FUNCTION,
    ORIGINAL_ENV,
    ORIGINAL_MEMORY,
    REGION,
    SplitClient,
    env_of,
    invoke_response,
    log_tail,
    memory_of,
)
from twinbench.aws.forced_cold import NONCE_ENV_VAR
from twinbench.results import formats
from twinbench.results.document import validate
from twinbench.tune.errors import TuneInputError, TuneRunError
from twinbench.tune.observations import SizeRun
from twinbench.tune.profiles import TuneProfile
from twinbench.tune.remote import (
    FunctionMemory,
    RemoteTuneConfig,
    invoke_once,
    report_from_log_tail,
    run_remote,
)
from twinbench.tune.runner import TuneRequest, run_tune

PAYLOAD = b'{"version": "2.0", "rawPath": "/predict"}'
PROFILE = TuneProfile("smoke", (128, 1769), cold=2, warmup=1, warm=5)
# Warm durations (ms) per size: 128 MB is slow, 1769 MB fast.
WARM_MS = {128: [9.2, 8.7, 9.9, 8.1, 30.0, 9.0], 512: [3.1, 2.9, 3.3, 2.8, 3.0, 3.2], 1769: [1.2, 1.1, 1.3, 0.9, 1.0, 5.0]}
INIT_MS = {128: 2100.5, 512: 650.0, 1769: 310.25}


def _scripted_invoke(lam):
    """An Invoke that answers as the function would at its *current* memory (read from moto):
    cold right after a configuration change, warm otherwise."""
    state = {"config": None, "n": itertools.count()}

    def invoke(**kwargs):
        assert kwargs["LogType"] == "Tail" and kwargs["InvocationType"] == "RequestResponse"
        conf = lam.get_function_configuration(FunctionName=FUNCTION)
        key = (conf["MemorySize"], json.dumps(conf.get("Environment"), sort_keys=True))
        memory = conf["MemorySize"]
        i = next(state["n"])
        rid = f"00000000-0000-4000-8000-{i:012d}"
        if key != state["config"]:
            state["config"] = key
            return invoke_response(rid, memory, 1.5, INIT_MS[memory])
        return invoke_response(rid, memory, WARM_MS[memory][i % 6])

    return invoke


def test_moto_invoke_has_no_log_tail(moto_lambda):
    """Why Invoke is stubbed: moto without Docker returns the payload and no LogResult."""
    resp = moto_lambda.invoke(FunctionName=FUNCTION, InvocationType="RequestResponse", LogType="Tail", Payload=PAYLOAD)
    assert "LogResult" not in resp
    assert resp["Payload"].read() == PAYLOAD


def test_without_a_log_tail_the_run_fails_and_the_function_is_restored(moto_lambda):
    runs: list[SizeRun] = []
    facts: dict = {}
    config = RemoteTuneConfig(FUNCTION, (PAYLOAD,), PROFILE, (128, 1769), waiter_delay_s=0)
    with pytest.raises(TuneRunError, match="no REPORT line"):
        run_remote(moto_lambda, config, runs, facts)
    assert memory_of(moto_lambda) == ORIGINAL_MEMORY and env_of(moto_lambda) == ORIGINAL_ENV
    assert facts["restored"] is True and facts["architecture"] == "arm64"


def test_function_memory_sets_waits_and_restores(moto_lambda):
    with FunctionMemory(moto_lambda, FUNCTION, delay_s=0) as memory:
        assert memory.original_memory_mb == ORIGINAL_MEMORY
        memory.set(256)
        conf = moto_lambda.get_function_configuration(FunctionName=FUNCTION)
        assert conf["MemorySize"] == 256 and conf["LastUpdateStatus"] == "Successful"
    assert memory_of(moto_lambda) == ORIGINAL_MEMORY and memory.restored


def test_restored_after_an_exception(moto_lambda):
    with pytest.raises(RuntimeError, match="blew up"), FunctionMemory(moto_lambda, FUNCTION, delay_s=0) as memory:
        memory.set(3008)
        raise RuntimeError("blew up")
    assert memory_of(moto_lambda) == ORIGINAL_MEMORY


def test_unknown_function_is_a_one_line_input_error(moto_lambda):
    with pytest.raises(TuneInputError, match="not found"), FunctionMemory(moto_lambda, "no-such-function"):
        pass


def test_a_full_run_reads_report_lines_and_restores(moto_lambda):
    client = SplitClient(moto_lambda, _scripted_invoke(moto_lambda))
    runs: list[SizeRun] = []
    facts: dict = {}
    run_remote(client, RemoteTuneConfig(FUNCTION, (PAYLOAD,), PROFILE, (128, 1769), waiter_delay_s=0), runs, facts)
    assert memory_of(moto_lambda) == ORIGINAL_MEMORY and env_of(moto_lambda) == ORIGINAL_ENV
    assert facts == {"function_name": FUNCTION, "restored": True, "original_memory_mb": ORIGINAL_MEMORY,
                     "architecture": "arm64", "environment_restored": True}
    by_size = {r.memory_mb: r for r in runs}
    assert [c.init_duration_ms for c in by_size[128].cold] == [INIT_MS[128]] * 2  # memory set + one env bump
    assert by_size[128].misclassified_cold == 0 and by_size[128].unexpected_cold == 0
    assert len(by_size[1769].warm_billed_ms) == PROFILE.warm
    assert all(b >= 1 for b in by_size[1769].warm_billed_ms)
    # Invokes: per size cold + warmup + warm.
    assert client.invocations == 2 * (PROFILE.cold + PROFILE.warmup + PROFILE.warm)


def test_sigterm_mid_run_restores_memory_and_environment(moto_lambda):
    scripted = _scripted_invoke(moto_lambda)
    calls = itertools.count()

    def invoke(**kwargs):
        if next(calls) == 4:  # inside the first size, after an env bump: both were changed
            assert memory_of(moto_lambda) == 128 and NONCE_ENV_VAR in env_of(moto_lambda)
            os.kill(os.getpid(), signal.SIGTERM)
        return scripted(**kwargs)

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        run_remote(SplitClient(moto_lambda, invoke),
                   RemoteTuneConfig(FUNCTION, (PAYLOAD,), PROFILE, (128, 1769), waiter_delay_s=0), [], {})
    assert memory_of(moto_lambda) == ORIGINAL_MEMORY and env_of(moto_lambda) == ORIGINAL_ENV
    assert signal.getsignal(signal.SIGTERM) == before  # the handler that turned SIGTERM into an interrupt is gone


def test_ctrl_c_through_the_run_folder_writes_a_partial_valid_document(moto_lambda, tmp_path, monkeypatch):
    scripted = _scripted_invoke(moto_lambda)
    per_size = PROFILE.cold + PROFILE.warmup + PROFILE.warm
    calls = itertools.count()

    def invoke(**kwargs):
        if next(calls) == per_size + 1:  # the second size has begun: the first is finished
            raise KeyboardInterrupt
        return scripted(**kwargs)

    monkeypatch.setenv("MODEL_PATH", str(tmp_path / "no-model"))
    request = TuneRequest(profile=PROFILE, memory_mb=(128, 1769), rps=10, balanced_weight=0.5,
                          discard_top_bottom=0.2, function_name=FUNCTION, region=REGION,
                          payload_file=_payload_file(tmp_path), out_root=tmp_path,
                          client_factory=lambda: SplitClient(moto_lambda, invoke))
    with pytest.raises(KeyboardInterrupt):
        run_tune(request)
    assert memory_of(moto_lambda) == ORIGINAL_MEMORY and env_of(moto_lambda) == ORIGINAL_ENV
    (folder,) = tmp_path.glob("tune-*")
    doc = json.loads((folder / "tune.json").read_text())
    validate(doc, expected=formats.TUNE)
    assert doc["interrupted"] is True and doc["run"]["status"] == "interrupted"
    assert [s["memory_mb"] for s in doc["sizes"]] == [128]
    assert doc["run"]["settings"]["target"]["restored"] is True
    assert doc["run"]["settings"]["architecture"] == "arm64"  # the function's own, priced as such


def _payload_file(tmp_path):
    path = tmp_path / "event.json"
    path.write_bytes(PAYLOAD)
    return path


def test_a_complete_remote_document_picks_and_validates(moto_lambda, tmp_path):
    request = TuneRequest(profile=PROFILE, memory_mb=(128, 512, 1769), rps=10, balanced_weight=0.5,
                          discard_top_bottom=0.2, function_name=FUNCTION, region=REGION,
                          payload_file=_payload_file(tmp_path), out_root=tmp_path, validate=True,
                          client_factory=lambda: SplitClient(moto_lambda, _scripted_invoke(moto_lambda)))
    doc, folder = run_tune(request)
    assert doc["picks"]["speed"]["memory_mb"] == 1769
    assert doc["pricing"]["architecture"] == "arm64"
    assert (folder / "report.md").exists() and (folder / "tune_duration_cost.png").exists()
    assert "LogResult" in doc["generators"][0]["produced_by"]


# -- the Invoke answer itself, through botocore's Stubber -----------------------------------------


def test_invoke_once_through_a_stubbed_client_reads_the_text_report():
    client = boto3.client("lambda", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("invoke", invoke_response("rid-1", 512, 12.34, 456.78),
                          {"FunctionName": FUNCTION, "InvocationType": "RequestResponse", "LogType": "Tail",
                           "Payload": ANY})
        inv = invoke_once(client, FUNCTION, PAYLOAD)
    assert inv.status == 200 and inv.cold_flag is True and inv.function_error is None
    assert inv.report.init_duration_ms == 456.78 and inv.report.billed_duration_ms == 470
    assert inv.report.memory_size_mb == 512


def test_invoke_once_reads_the_json_log_format_and_function_errors():
    client = boto3.client("lambda", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("invoke", invoke_response("rid-2", 128, 7.5, json_format=True), None)
        stub.add_response("invoke", invoke_response("rid-3", 128, 3.0, function_error="Unhandled"), None)
        json_log = invoke_once(client, FUNCTION, PAYLOAD)
        failed = invoke_once(client, FUNCTION, PAYLOAD)
    assert json_log.report.billed_duration_ms == 8 and json_log.cold_flag is False
    assert failed.function_error == "Unhandled" and failed.status == 0


def test_access_denied_is_a_one_line_input_error():
    client = boto3.client("lambda", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error("invoke", service_error_code="AccessDeniedException", http_status_code=403)
        with pytest.raises(TuneInputError, match="lambda:InvokeFunction"):
            invoke_once(client, FUNCTION, PAYLOAD)


def test_report_from_log_tail_edge_cases():
    assert report_from_log_tail(None) is None
    assert report_from_log_tail(base64.b64encode(b"START RequestId: x\nEND RequestId: x\n").decode()) is None
    assert report_from_log_tail(log_tail("r", 256, 2.01, None)).billed_duration_ms == 3
