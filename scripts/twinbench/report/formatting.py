"""Small text helpers every part of the bench report shares: a latency, a fraction, a path into results.json.

They sit apart so the rendering (``markdown``) and the verdict (``recommendation``) format figures the
same way without importing each other.
"""

from __future__ import annotations

__all__ = ["get", "ms", "pct"]


def ms(value: float | None) -> str:
    """A latency in ms with about three significant figures; an em dash when there is none."""
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def get(doc: dict, *path: str) -> object:
    """``doc[path[0]][path[1]]...``, or None where the path stops (older documents lack sections)."""
    node: object = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def pct(fraction: float) -> str:
    """A small fraction readably: 0.35 %, 0.0042 %, or 1 in 2.4 million."""
    if fraction <= 0:
        return "0 %"
    if fraction >= 1e-4:
        return f"{fraction:.2%}"
    return f"1 in {1 / fraction:,.0f}"
