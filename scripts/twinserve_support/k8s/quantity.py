"""Kubernetes resource quantities (``500m``, ``1``, ``64Mi``, ``1500000n``, ``1e3``) as plain numbers.

The grammar is Kubernetes' own (``k8s.io/apimachinery/pkg/api/resource``, ``quantity.go``):
``<signedNumber><suffix>`` where the suffix is a binary SI one (``Ki`` .. ``Ei``, powers of 2),
a decimal SI one (``n u m "" k M G T P E``) or a decimal exponent (``e3``, ``E-2``). CPU comes
out in cores and memory in bytes. Parsed with :class:`~decimal.Decimal`, so ``1500m`` is exactly
``1.5`` and ``1Gi`` exactly ``2**30``; :func:`quantity_float` is the same number as a float.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["QuantityError", "parse_quantity", "quantity_float"]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
            "P": Decimal(10**15), "E": Decimal(10**18)}
# Number (an exponent belongs to it: "1e3", "2E-2"), then an optional letter suffix. "1E" is exa.
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$")


class QuantityError(ValueError):
    """Not a Kubernetes quantity (unknown suffix, no number, two dots ...)."""


def parse_quantity(value: str | int | float) -> Decimal:
    """``value`` as an exact number: cores for ``cpu``, bytes for ``memory``. Raises :class:`QuantityError`."""
    if isinstance(value, bool):
        raise QuantityError(f"not a Kubernetes quantity: {value!r}")
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        raise QuantityError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation as exc:  # the pattern admits only numbers; kept for safety
        raise QuantityError(f"malformed quantity {value!r}") from exc
    if suffix in _BINARY:
        return amount * _BINARY[suffix]
    if suffix in _DECIMAL:
        return amount * _DECIMAL[suffix]
    raise QuantityError(f"unknown quantity suffix {suffix!r} in {value!r}")


def quantity_float(value: str | int | float) -> float:
    """:func:`parse_quantity` as a float (for arithmetic on measured figures). Raises :class:`QuantityError`."""
    return float(parse_quantity(value))
