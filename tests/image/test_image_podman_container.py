"""PodmanContainer builds the `podman run` the pod implies, without starting anything.
(The real run is `make image-smoke`.)
"""

from __future__ import annotations

import subprocess

import pytest
from twinserve_support import podman as podman_container
from twinserve_support.paths import REPO  # noqa: E402
from twinserve_support.podman import PodmanContainer, PodmanError


def test_run_args_mirror_the_pod_and_stay_on_loopback():
    c = PodmanContainer(18080, 1.0, 1024, image="localhost/x:1", env={"WEB_CONCURRENCY": "3", "HOST": "0.0.0.0"})
    args = c.run_args()
    assert args[0] == "run" and args[-1] == "localhost/x:1"
    assert "--network=host" in args and not any(a.startswith("--publish") for a in args)
    assert "--env=HOST=127.0.0.1" in args and "--env=HOST=0.0.0.0" not in args
    assert "--env=PORT=18080" in args and "--env=WEB_CONCURRENCY=3" in args
    for flag in ("--cpus=1", "--memory=1024m", "--memory-swap=1024m", "--user=10001:10001", "--read-only",
                 "--read-only-tmpfs=false", "--cap-drop=ALL", "--security-opt=no-new-privileges", "--pull=never"):
        assert flag in args, flag
    assert any(a.startswith("--tmpfs=/tmp:") for a in args)
    assert c.url == "http://127.0.0.1:18080"


@pytest.mark.parametrize("kwargs", [{"port": 0}, {"port": 70000}, {"cpus": 0}, {"memory_mb": -1}])
def test_rejects_nonsense_limits(kwargs):
    params = {"port": 8080, "cpus": 1.0, "memory_mb": 512, **kwargs}
    with pytest.raises(ValueError):
        PodmanContainer(**params)


def test_podman_env_uses_the_project_config_or_says_to_build(tmp_path, monkeypatch):
    monkeypatch.setattr(podman_container, "PODMAN_ROOT", tmp_path)
    with pytest.raises(PodmanError, match="make image"):
        podman_container.podman_env({})
    (tmp_path / "containers.conf").write_text("")
    (tmp_path / "storage.conf").write_text("")
    env = podman_container.podman_env({"PATH": "/bin"})
    assert env["CONTAINERS_CONF"] == str(tmp_path / "containers.conf")
    assert env["CONTAINERS_STORAGE_CONF"] == str(tmp_path / "storage.conf")
    assert env["CONTAINERS_REGISTRIES_CONF"].endswith("infra/podman/registries.conf")


def test_stop_without_start_is_a_no_op():
    container = PodmanContainer(8080, 1.0, 512)
    assert container.stop() is None  # nothing started: nothing to stop, no podman call, no error


def test_image_scripts_pass_shellcheck():
    # make test builds .venv-tools (the pinned shellcheck) first: its absence is a failure, not a skip.
    shellcheck = REPO / ".venv-tools" / "bin" / "shellcheck"
    assert shellcheck.exists(), "the pinned shellcheck is missing: run make setup-tools"
    proc = subprocess.run([str(shellcheck), str(REPO / "infra" / "podman" / "standin-base.sh")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
