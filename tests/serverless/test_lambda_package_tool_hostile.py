"""scripts/lambda_package_tool.py on input it cannot use: one line on stderr, exit 2, never a traceback."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import lambda_package_tool
import pytest

NOT_UTF8 = b"\xff\xfe\x00\x01"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder with a real zip (pkg.zip), an empty zip, a non-zip, a plain file and JSON of several shapes."""
    with zipfile.ZipFile(tmp_path / "pkg.zip", "w") as archive:
        archive.writestr("handler.py", "x = 1\n")
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    (tmp_path / "notzip.zip").write_text("hello")
    (tmp_path / "afile").write_text("")
    (tmp_path / "binary.json").write_bytes(NOT_UTF8)
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "odd.json").write_text(json.dumps({"Resources": {"F": {"Type": "AWS::IAM::Role",
                                                                       "Properties": {"Policies": "x"}}}}))
    (tmp_path / "nomodel").mkdir()
    (tmp_path / "badmodel" / "model").mkdir(parents=True)
    (tmp_path / "badmodel" / "model" / "metadata.json").write_text('{"name": 1}')
    return tmp_path


CASES = [
    (["size", "--zip", "{d}/notzip.zip", "--pkg", "{d}/p"], "--zip {d}/notzip.zip is not a zip archive"),
    (["size", "--zip", "{d}/empty.zip", "--pkg", "{d}/p"], "holds no files"),
    (["size", "--zip", "{d}/pkg.zip", "--pkg", "{d}/afile"], "--pkg {d}/afile is a file"),
    (["size", "--zip", "{d}/pkg.zip", "--pkg", "{d}/p", "--top", "-1"], "--top must be >= 0"),
    (["size", "--zip", "{d}/pkg.zip", "--pkg", "{d}/p", "--json-out", "{d}"], "is a folder; give a file name"),
    (["check-template", "--template", "{d}/missing.json"], "--template {d}/missing.json not found"),
    (["check-template", "--template", "{d}/binary.json"], "is not UTF-8 text"),
    (["check-template", "--template", "{d}/bad.json"], "is not JSON"),
    (["check-template", "--template", "{d}/list.json"], "is not a CloudFormation template"),
    (["check-template", "--template", "{d}/odd.json"], "a resource of an unexpected shape"),
    (["smoke", "--pkg", "{d}/nomodel", "--python", sys.executable], "model metadata {d}/nomodel/model/metadata.json not found"),
    (["smoke", "--pkg", "{d}/afile", "--python", sys.executable], "is not a folder"),
    (["smoke", "--pkg", "{d}/badmodel", "--python", sys.executable], "is not a registered model's metadata"),
]


@pytest.mark.parametrize("argv,message", CASES, ids=[f"{c[0][0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_one_line_exit_2(files, capsys, argv, message):
    code = lambda_package_tool.main([arg.replace("{d}", str(files)) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert message.replace("{d}", str(files)) in err
    assert not (files / "p").exists()


def test_help_states_the_exit_codes():
    text = lambda_package_tool.build_parser().format_help()
    assert "Exit status: 0 when every check passed, 1 when a check failed, 2 on bad usage or input" in text
