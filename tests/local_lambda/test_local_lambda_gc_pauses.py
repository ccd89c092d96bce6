"""The emulator reports how long Python's collector held its event loop."""

from __future__ import annotations

import gc

from twinbench.local_lambda.gc_pauses import GcPauses


def test_full_collections_are_counted_only_while_installed():
    pauses = GcPauses()
    pauses.install()
    pauses.install()  # once only
    try:
        gc.collect(1)  # a young collection is not a full one
        assert pauses.full_collections == 0
        gc.collect()
        gc.collect()
        assert pauses.full_collections == 2
        assert pauses.max_pause_ms > 0 and pauses.total_pause_ms >= pauses.max_pause_ms
    finally:
        pauses.remove()
    gc.collect()
    assert pauses.full_collections == 2
    assert set(pauses.figures()) == {"gc_full_collections", "gc_max_pause_ms", "gc_total_pause_ms"}
