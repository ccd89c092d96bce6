"""Remote tuning of a SnapStart function: every cold sample is a published version behind the alias,
invoked through the alias, and its REPORT's Restore Duration makes it a restore (not an init).

moto keeps versions and aliases but not SnapStart (it reports ``ApplyOn: "None"``), so the
SnapStart path is switched on by the config (``snap_start=True``); Invoke is answered as in
``tune_stand_in`` (moto without Docker returns no LogResult), with REPORT lines written by
:func:`twinbench.aws.report_line.format_report_line`.
"""

from __future__ import annotations

import base64
import io
import itertools
import json

from botocore.response import StreamingBody
from tune_stand_in import COLD_HEADER, FUNCTION, ORIGINAL_ENV, ORIGINAL_MEMORY, SplitClient, env_of, memory_of
from twinbench.aws.report_line import format_report_line
from twinbench.tune.observations import SizeRun
from twinbench.tune.profiles import TuneProfile
from twinbench.tune.remote import RemoteTuneConfig, run_remote

ALIAS = "snapstart"
PAYLOAD = b'{"version": "2.0", "rawPath": "/predict"}'
PROFILE = TuneProfile("smoke", (128, 1769), cold=2, warmup=1, warm=5)
RESTORE_MS = 412.5


def _restoring_invoke(lam, qualifiers: list[str | None]):
    """Answers as a SnapStart alias would: a restore on the first request to a version, warm after."""
    seen: set[str] = set()
    n = itertools.count()

    def invoke(**kwargs):
        qualifiers.append(kwargs.get("Qualifier"))
        conf = lam.get_function_configuration(FunctionName=FUNCTION, Qualifier=kwargs.get("Qualifier", "$LATEST"))
        version, memory = conf["Version"], conf["MemorySize"]
        cold = version not in seen
        seen.add(version)
        rid = f"00000000-0000-4000-8000-{next(n):012d}"
        report = format_report_line(rid, 2.5, 3, memory, 90, restore_duration_ms=RESTORE_MS if cold else None)
        log = f"START RequestId: {rid} Version: {version}\nEND RequestId: {rid}\n{report}\n"
        body = json.dumps({"statusCode": 200, "headers": {COLD_HEADER: "true" if cold else "false"},
                           "body": "{}", "isBase64Encoded": False}).encode()
        return {"StatusCode": 200, "ExecutedVersion": version, "LogResult": base64.b64encode(log.encode()).decode(),
                "Payload": StreamingBody(io.BytesIO(body), len(body))}

    return invoke


def test_snapstart_cold_samples_are_restores_through_the_alias_and_everything_is_put_back(moto_lambda):
    version = moto_lambda.publish_version(FunctionName=FUNCTION)["Version"]
    moto_lambda.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion=version)
    qualifiers: list[str | None] = []
    client = SplitClient(moto_lambda, _restoring_invoke(moto_lambda, qualifiers))
    runs: list[SizeRun] = []
    facts: dict = {}
    config = RemoteTuneConfig(FUNCTION, (PAYLOAD,), PROFILE, (128, 1769), waiter_delay_s=0, snap_start=True)
    run_remote(client, config, runs, facts)

    assert set(qualifiers) == {ALIAS} and len(qualifiers) == 2 * (PROFILE.cold + PROFILE.warmup + PROFILE.warm)
    for run in runs:  # every cold sample is a restore: no Init Duration, none dropped
        assert len(run.cold) == PROFILE.cold and run.misclassified_cold == 0 and run.unexpected_cold == 0
        assert all(c.init_duration_ms is None and c.verified_cold for c in run.cold)
        assert [c.restore_duration_ms for c in run.cold] == [RESTORE_MS] * PROFILE.cold
        assert len(run.warm_billed_ms) == PROFILE.warm
    assert facts["cold_kind"] == "restore" and facts["snapstart_alias"] == ALIAS
    assert len(facts["published_versions"]) == 2 * PROFILE.cold  # one per cold sample, the first after each size
    assert moto_lambda.get_alias(FunctionName=FUNCTION, Name=ALIAS)["FunctionVersion"] == version
    listed = [v["Version"] for v in moto_lambda.list_versions_by_function(FunctionName=FUNCTION)["Versions"]]
    assert listed == ["$LATEST", version]
    assert memory_of(moto_lambda) == ORIGINAL_MEMORY and env_of(moto_lambda) == ORIGINAL_ENV
    assert facts["restored"] is True and facts["environment_restored"] is True


def test_without_snapstart_an_absent_alias_changes_nothing(moto_lambda):
    qualifiers: list[str | None] = []
    facts: dict = {}
    runs: list[SizeRun] = []
    client = SplitClient(moto_lambda, _restoring_invoke(moto_lambda, qualifiers))
    config = RemoteTuneConfig(FUNCTION, (PAYLOAD,), PROFILE, (128,), waiter_delay_s=0)
    run_remote(client, config, runs, facts)
    assert "cold_kind" not in facts and set(qualifiers) == {None}
    assert [v["Version"] for v in moto_lambda.list_versions_by_function(FunctionName=FUNCTION)["Versions"]] == ["$LATEST"]


def test_the_tune_document_reports_restores_beside_inits():
    """A SnapStart size's cold samples are restores: the document gives their Restore Duration and
    counts them as confirmed cold starts (no "no confirmed cold start" warning)."""
    from twinbench.tune.document import TuneSettings, _size_record
    from twinbench.tune.observations import ColdObservation

    run = SizeRun(memory_mb=1024)
    run.cold = [ColdObservation(f"r{i}", 200, None, 2.5, 3, True, restore_duration_ms=RESTORE_MS) for i in range(3)]
    warnings: list[str] = []
    settings = TuneSettings(mode="remote", profile={"name": "smoke", "memory_mb": [1024], "cold": 3, "warmup": 0, "warm": 0},
                            memory_mb=(1024,), rps=20.0, balanced_weight=0.5, discard_top_bottom=0.2,
                            architecture="x86_64", keep_alive_s=300.0, gap_ms=0.0, target={"kind": "test"})
    record = _size_record(run, settings, warnings)
    assert record["cold"]["n"] == 3 and record["cold"]["restore_ms"]["p50"] == RESTORE_MS
    assert not any("no confirmed cold start" in w for w in warnings)
