"""Warnings a model raises on every prediction: logged once when the service starts, then silenced.

Some fitted models warn each time they run (a ``SimpleImputer`` fitted on a column it never saw a
value in; a library deprecation), and Python repeats such a warning whenever the warnings filters
change, which scikit-learn's own code does per call: one stderr line per request drowns the
function's and the pod's logs. The self-test runs the model before any request, so the warnings
it raises there are known then: each is logged once, with what it says, and a filter for exactly
that category and message is installed process-wide before any worker or thread exists. A warning
the self-test did not see still shows.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable

log = logging.getLogger("twinserve")
_MESSAGE_CHARS = 300
# What this process has silenced: a second self-test (SnapStart's before-snapshot hook) logs nothing new.
_silenced: set[tuple[type[Warning], str]] = set()


def silence_repeating(run: Callable[[], None]) -> list[str]:
    """Call ``run`` (the model's self-test); log each distinct warning it raised once and silence
    exactly those from then on. Returns the warnings as logged (for the caller's tests)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run()
    logged: list[str] = []
    for category, message in dict.fromkeys((w.category, str(w.message)) for w in seen):
        if (category, message) in _silenced:
            continue
        _silenced.add((category, message))
        text = f"{category.__name__}: {message[:_MESSAGE_CHARS]}"
        log.warning("the model warns on every prediction (logged once, then silenced): %s", text)
        warnings.filterwarnings("ignore", message=re.escape(message), category=category)
        logged.append(text)
    return logged
