"""scripts/image_smoke.py refuses bad arguments in one line with exit 2, before podman is asked anything."""

from __future__ import annotations

import json
from pathlib import Path

import image_smoke
import pytest


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A folder with the parts of a registered model's metadata.json the smoke test reads."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "metadata.json").write_text(json.dumps({"artefacts": {"source": {"sha256": "0" * 64}},
                                                                  "classes": [0, 1]}))
    return tmp_path / "model"


@pytest.mark.parametrize("argv,message", [
    (["--model-dir", "{t}/missing"], "--model-dir {t}/missing: no metadata.json"),
    (["--model-dir", "{t}"], "--model-dir {t}: no metadata.json"),
    (["--model-dir", "{t}/binary"], "cannot read metadata.json"),
    (["--model-dir", "{t}/list"], "is not a registered model's"),
    (["--cpus", "nan"], "--cpus must be a finite number > 0, not nan"),
    (["--cpus", "-1"], "--cpus must be a finite number > 0, not -1.0"),
    (["--cpus", "inf"], "--cpus must be a finite number > 0, not inf"),
    (["--memory-mb", "0"], "--memory-mb must be a finite number > 0, not 0"),
    (["--ready-timeout-s", "nan"], "--ready-timeout-s must be a finite number > 0, not nan"),
    (["--ready-timeout-s", "-1"], "--ready-timeout-s must be a finite number > 0"),
    (["--max-stop-s", "0"], "--max-stop-s must be a finite number > 0"),
    (["--port", "-1"], "--port must be 0 (a free port) to 65535, not -1"),
    (["--port", "70000"], "--port must be 0 (a free port) to 65535, not 70000"),
])
def test_bad_arguments_are_one_line_exit_2(model_dir, capsys, argv, message):
    tmp = model_dir.parent
    (tmp / "binary").mkdir()
    (tmp / "binary" / "metadata.json").write_bytes(b"\xff\xfe\x00")
    (tmp / "list").mkdir()
    (tmp / "list" / "metadata.json").write_text("[]")
    args = [a.replace("{t}", str(tmp)) for a in argv]
    if "--model-dir" not in args:
        args += ["--model-dir", str(model_dir)]
    assert image_smoke.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("image_smoke.py: error: ") and message.replace("{t}", str(tmp)) in err, err


def test_good_arguments_pass_the_check(model_dir):
    args = image_smoke.argparse.Namespace(port=0, cpus=1.5, memory_mb=512, ready_timeout_s=60.0, max_stop_s=None,
                                          model_dir=model_dir)
    assert image_smoke.argument_problem(args) is None


def test_help_states_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        image_smoke.main(["--help"])
    assert "Exit status: 0 every check passed; 1 a check failed; 2 bad usage or input" in capsys.readouterr().out
