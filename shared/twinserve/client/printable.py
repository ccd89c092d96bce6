"""Text from a server made safe to print: no terminal escapes, no control characters.

A deployment's error message, its ``Location`` header or a class label reaches the user's terminal.
A hostile or broken server could send ANSI escapes (clear the screen, rewrite the line, set the
window title, OSC 52 to write the clipboard), a carriage return that overwrites what came before,
or bidirectional overrides that make text read differently than it is. :func:`printable` removes
whole escape sequences first (so no ``[31m`` residue is left), then every remaining C0 and C1
control character and the bidi controls; a tab, newline or carriage return becomes one space, so
a message stays one readable line.
"""

from __future__ import annotations

import re

# ECMA-48: CSI (ESC [ or the 8-bit 0x9B) params, intermediates, final byte; OSC (ESC ] / 0x9D) up
# to BEL or ST; DCS, SOS, PM, APC (ESC P X ^ _) up to ST; any other ESC with its intermediates.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]?",
)
_WHITESPACE_CONTROL = re.compile(r"[\t\n\r\v\f]+")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` without escape sequences or control characters (whitespace ones become a space)."""
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _WHITESPACE_CONTROL.sub(" ", text)
    return _CONTROL.sub("", text)
