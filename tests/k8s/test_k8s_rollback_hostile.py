"""scripts/k8s_rollback.py snapshot on input it cannot use: one line, exit 2, nothing written."""

from __future__ import annotations

import k8s_rollback
import pytest

GOOD = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"


@pytest.mark.parametrize("rendered,live,message", [
    ("apiVersion: apps/v1\nkind: Deployment\n", None, "an object without kind and metadata.name"),
    ("- 1\n- 2\n", None, "an object without kind and metadata.name"),
    (b"\xff\xfe\x00binary", None, "can't decode byte 0xff"),
    ("kind: [unclosed\n", None, "cannot read the state"),
    (GOOD, '{"kind": "List", "items": [{"kind": "Service"}]}', "live.json: an object without kind and metadata.name"),
    (GOOD, "[1]", "cannot read the state"),
    (GOOD, b"\x80binary", "can't decode byte 0x80"),
    (GOOD, '{"kind": "Service", "metadata": {"name": "s", "annotations": '
           '{"kubectl.kubernetes.io/last-applied-configuration": "{bad"}}}', "Expecting property name"),
])
def test_unusable_input_is_one_line_exit_2(tmp_path, capsys, rendered, live, message):
    for name, content in (("r.yaml", rendered), ("live.json", live)):
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        elif content is not None:
            (tmp_path / name).write_text(content)
    argv = ["snapshot", "--rendered", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "out")]
    code = k8s_rollback.main(argv + (["--live", str(tmp_path / "live.json")] if live is not None else []))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not (tmp_path / "out").exists()
