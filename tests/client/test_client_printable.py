"""Server text on the user's terminal: no escape sequences, no control characters, one line."""

from __future__ import annotations

import json
import re

import pytest
from twinserve.cli import main
from twinserve_support.client_stand_in import Reply, prediction, scripted

HOSTILE = "\x1b[2J\x1b[H\x1b]0;title\x07\x1b]52;c;ZXZpbA==\x1b\\row\nhas\r\t3\x00 values\x9b31m\x07\u202egnp.exe\x7f"
# Nothing a terminal acts on: C0 except the final newline, DEL, C1, and bidi controls.
UNPRINTABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize("text,expected", [
    ("plain text, é ü 中文", "plain text, é ü 中文"),
    ("\x1b[31mred\x1b[0m", "red"),
    ("\x1b[1;2;3;4Hmoved", "moved"),
    ("\x1b]0;window title\x07after", "after"),
    ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),
    ("\x9b2Jcleared", "cleared"),
    ("a\x1bcb", "ab"),  # ESC c: full reset
    ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),
    ("line one\nline two\r\nthree\tfour", "line one line two three four"),
    ("bell\x07 nul\x00 del\x7f c1\x85", "bell nul del c1"),
    ("\u202eevil\u202c", "evil"),
    ("unterminated \x1b]0;title", "unterminated 0;title"),
])
def test_printable(text, expected):
    from twinserve.client.printable import printable

    assert printable(text) == expected


def _one_clean_line(err: str) -> None:
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert not UNPRINTABLE.search(err[:-1]), repr(err)


def test_a_refusal_message_is_printed_clean(stand_in, capsys):
    body = json.dumps({"error": {"code": "invalid\x1b[5mshape", "message": HOSTILE}}).encode()
    server = stand_in(scripted([Reply(422, body)]))
    assert main(["predict", "--url", server.url, "--row", "1,2,3"]) == 1
    err = capsys.readouterr().err
    _one_clean_line(err)
    assert err == "twinserve predict: error: server refused the request (422 invalidshape): row has 3 valuesgnp.exe\n"


def test_a_gave_up_message_is_printed_clean(stand_in, capsys):
    server = stand_in(scripted([Reply(503, json.dumps({"message": HOSTILE}).encode())]))
    assert main(["predict", "--url", server.url, "--row", "1", "--retries", "0"]) == 1
    err = capsys.readouterr().err
    _one_clean_line(err)
    assert "last answer 503: row has 3 values" in err


def test_a_non_json_error_body_is_printed_clean(stand_in, capsys):
    server = stand_in(scripted([Reply(400, HOSTILE.encode())]))
    assert main(["predict", "--url", server.url, "--row", "1"]) == 1
    _one_clean_line(capsys.readouterr().err)


def test_a_redirect_location_is_printed_clean(stand_in, capsys):
    server = stand_in(scripted([Reply(302, b"", {"Location": "https://x/\x1b[2J\x1b]0;t\x07y"})]))
    assert main(["predict", "--url", server.url, "--row", "1"]) == 1
    err = capsys.readouterr().err
    _one_clean_line(err)
    assert "redirect to https://x/y (not followed" in err


def test_a_model_name_from_the_server_is_printed_clean(stand_in, tmp_path, capsys):
    first = json.loads(prediction(2).body)
    second = dict(first, model={"name": "\x1b]0;evil\x07other\x1b[2J", "version": "2", "sha256": "1" * 64})
    server = stand_in(scripted([Reply(200, json.dumps(first).encode()), Reply(200, json.dumps(second).encode())]))
    (tmp_path / "rows.json").write_text("[[1], [2], [3], [4]]")
    assert main(["predict", "--url", server.url, "--json", str(tmp_path / "rows.json"), "--batch-rows", "2",
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    _one_clean_line(err)
    assert "another model (other 2 sha256" in err
