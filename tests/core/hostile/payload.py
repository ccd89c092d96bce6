"""Crafted attacker payloads for the hostile-model tests. Each creates a marker file when it runs."""

from __future__ import annotations

import os

MARKER_ENV = "TWINSERVE_TEST_MARKER"


def _touch_marker() -> None:
    with open(os.environ[MARKER_ENV], "w") as handle:
        handle.write("payload executed")


class PickleBomb:
    """Unpickling calls ``os.system``-style code via __reduce__."""

    def __reduce__(self):
        return (exec, (f"open(__import__('os').environ[{MARKER_ENV!r}], 'w').write('payload executed')",))


class SkopsBomb:
    """skops rebuilds objects with __setstate__: an attacker's class runs code there."""

    def __setstate__(self, state):
        _touch_marker()
        self.__dict__.update(state)


def skops_bomb() -> SkopsBomb:
    """An instance with state: skops only calls __setstate__ when there is state to restore."""
    bomb = SkopsBomb()
    bomb.n_estimators = 100
    return bomb
