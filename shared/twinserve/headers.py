"""Response headers the handlers add and the bench reads: named once, on the serving side.

``x-twinserve-cold`` says whether this invocation was its execution environment's first, and
``x-twinserve-init-ms`` how long that environment's init took: the in-function evidence a
forced cold start is verified by (as SeBS does), whatever the platform's own logs say.
"""

COLD_HEADER = "x-twinserve-cold"
INIT_HEADER = "x-twinserve-init-ms"


def parse_cold_flag(headers: dict[str, str]) -> bool | None:
    """The handler's verdict from lower-cased response headers: True, False, or None when absent or garbled."""
    raw = headers.get(COLD_HEADER)
    if raw is None:
        return None
    value = raw.strip().lower()
    return True if value == "true" else False if value == "false" else None
