"""Hold Ctrl-C and SIGTERM while a change to a deployed function is being undone.

The forced cold starts and the memory tuner both restore a function's configuration on exit; an
interrupt in the middle of that restore would leave the function changed. Both hold the signals
here and raise KeyboardInterrupt once the restore has completed.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["signals_held"]


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends (main thread only), then raise KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: object) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        raise KeyboardInterrupt(f"signal {received[0]} during the restore (restore completed)")
