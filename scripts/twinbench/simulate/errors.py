"""The simulator's errors: bad input, never a bug. The CLI maps every one to exit code 2.

One base (``SimulationError``, a ValueError like the cost model's errors) and a subclass per
kind of input, so a caller can tell a bad trace file from a bad parameter without parsing
messages.
"""

from __future__ import annotations


class SimulationError(ValueError):
    """Base of every error the simulator raises for input it cannot use."""


class ProfileError(SimulationError):
    """A traffic profile or trace file that cannot be read or makes no sense (names file and line)."""


class ParameterError(SimulationError):
    """A model parameter outside what the platform allows (NaN, infinite, negative, zero where > 0 is needed)."""


class InputsError(SimulationError):
    """A bench results folder or HPA manifest that cannot supply the inputs it should."""


class OutputError(SimulationError):
    """A result file (``--out``, ``--plot``) that cannot be written: missing folder, a directory, no permission."""
