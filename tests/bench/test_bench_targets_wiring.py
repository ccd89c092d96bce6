"""How targets.py wires the runtimes it does not own: podman's container, the Lambda package's size,
and the report lines that make them visible (package size, shipped-package init, the offline label)."""

from __future__ import annotations

import copy
import json
import sys
import types

import pytest
from twinbench.aws.package_info import package_info
from twinbench.targets import ContainerTarget


class FakePodman:
    """Stands in for twinserve_support.podman.PodmanContainer (same constructor, .url, start/stop)."""

    made: list[FakePodman] = []

    def __init__(self, port: int, cpus: float, memory_mb: int, *, stop_timeout_s: int = 30, **kw: object) -> None:
        if not 0 < port < 65536:
            raise ValueError("port must be 1..65535")
        self.port, self.cpus, self.memory_mb, self.stop_timeout_s = port, cpus, memory_mb, stop_timeout_s
        self.image = "localhost/twinserve-predict:test"
        self.timings: dict[str, float] = {}
        self.events: list[str] = []
        FakePodman.made.append(self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.events.append("start")
        self.timings["start_to_ready_ms"] = 1234.0

    def stop(self) -> None:
        self.events.append("stop")

    def __enter__(self) -> FakePodman:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def fake_podman(monkeypatch):
    FakePodman.made = []
    module = types.ModuleType("twinserve_support.podman")
    module.PodmanContainer = FakePodman
    monkeypatch.setitem(sys.modules, "twinserve_support.podman", module)
    return FakePodman


def test_podman_runtime_gets_a_real_port_the_pod_limits_and_is_stopped(fake_podman, monkeypatch):
    import twinbench.targets.container as targets

    monkeypatch.setattr(targets, "timed_post", lambda url, body, timeout_s=60.0: (200, {}, 7.0))
    with ContainerTarget(runtime="podman") as target:
        serving = fake_podman.made[0]
        assert target.url == serving.url and serving.port > 0
        config = target.describe()["config"]
        assert config["runtime"] == "podman" and config["cpu_quota_applied"] is True
        assert (serving.cpus, serving.memory_mb) == (target.cpus, target.memory_mb)
        sample = target.cold_sample(b"{}")
    cold = fake_podman.made[1]
    assert cold.events == ["start", "stop"] and cold.stop_timeout_s <= 5
    assert sample.init_ms == 1234.0 and sample.status == 200 and sample.request_ms == 7.0
    assert serving.events == ["start", "stop"]


def test_podman_cold_container_is_removed_even_when_the_request_blows_up(fake_podman, monkeypatch):
    import twinbench.targets.container as targets

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(targets, "timed_post", boom)
    target = ContainerTarget(runtime="podman")
    with pytest.raises(KeyboardInterrupt):
        target.cold_sample(b"{}")
    assert fake_podman.made[0].events == ["start", "stop"]


def test_package_info_prefers_package_size_json_and_walks_otherwise(tmp_path):
    pkg = tmp_path / "lambda" / "pkg"
    (pkg / "numpy").mkdir(parents=True)
    (pkg / "numpy" / "core.so").write_bytes(b"x" * 3 * 2**20)
    (pkg / "handler.py").write_bytes(b"y" * 1000)
    walked = package_info(pkg)
    assert walked["source"] == "walked" and walked["unzipped_bytes"] == 3 * 2**20 + 1000 and walked["files"] == 2
    assert list(walked["largest"]) == ["numpy", "handler.py"] and walked["zip_mib"] is None
    (pkg.parent / "package-size.json").write_text(json.dumps({
        "unzipped_bytes": 98977542, "zip_bytes": 32387610, "files": 970, "top_level_bytes": {"numpy": 5},
        "lambda_limit_bytes": 262144000, "target_mib": 120}))
    recorded = package_info(pkg)
    assert (recorded["unzipped_mib"], recorded["zip_mib"], recorded["lambda_limit_mib"]) == (94.4, 30.9, 250.0)
    assert recorded["source"].endswith("package-size.json") and recorded["target_mib"] == 120
    assert package_info(tmp_path / "missing") is None


def _doc() -> dict:
    from test_bench_results import _doc as base  # the complete document the results tests build

    return copy.deepcopy(base())


def test_report_shows_package_size_and_shipped_init_and_old_documents_still_render(tmp_path):
    from twinbench.report.markdown import render_markdown, summary_table
    from twinbench.results import document as results

    old = _doc()  # no environment.lambda_package: a document from before the field existed
    results.validate(old)
    assert "Lambda package" not in render_markdown(old, {}, [])
    doc = _doc()
    doc["environment"]["lambda_package"] = {
        "path": "build/lambda/pkg", "source": "build/lambda/package-size.json", "unzipped_bytes": 98977542,
        "unzipped_mib": 94.4, "zip_bytes": 32387610, "zip_mib": 30.9, "files": 970,
        "largest": {"onnxruntime": 37277939}, "lambda_limit_mib": 250.0, "target_mib": 120, "measured": True}
    results.validate(doc)
    report = render_markdown(doc, {}, [])
    assert "## Lambda package" in report and "94.4 MiB (30.9 MiB zipped) of Lambda's 250 MiB" in report
    assert "cold-start init of this package (forced cold starts, REPORT Init Duration): 395 ms" in report
    table = summary_table(doc)
    assert "Lambda package (unzipped)" in table and "Lambda init, shipped package" in table
    broken = copy.deepcopy(doc)
    broken["environment"]["lambda_package"]["unzipped_bytes"] = -1
    with pytest.raises(results.ResultsError):
        results.validate(broken)


def test_every_output_labels_serverless_offline(tmp_path):
    from twinbench.report.markdown import render_markdown, summary_table
    from twinbench.targets.serverless_offline import OFFLINE_LABEL

    doc = _doc()
    doc["targets"]["lambda"]["runtime"] = "offline"
    doc["targets"]["lambda"]["notes"] = [OFFLINE_LABEL]
    doc["run"]["settings"]["lambda_runtime"] = "offline"
    report = render_markdown(doc, {}, [])
    assert report.count(OFFLINE_LABEL) >= 4  # banner, table header, target note, cold start, limits
    assert OFFLINE_LABEL in summary_table(doc)
