"""The tuner's errors: each carries its exit code; the CLI prints ``str(error)`` on one line."""

from __future__ import annotations

__all__ = ["TuneError", "TuneInputError", "TuneRunError"]


class TuneError(Exception):
    """Base of every error the tuner raises on purpose."""

    exit_code = 1


class TuneInputError(TuneError, ValueError):
    """Bad input the user can fix: a memory list, a profile, a weight, a function that does not exist."""

    exit_code = 2


class TuneRunError(TuneError):
    """The measurement could not be made: the emulator did not start, every invocation failed,
    a deployed function could not be configured or restored (the message says what to check)."""

    exit_code = 1
