"""Every way a call to a deployed endpoint can fail, as types with the CLI exit code they map to.

The names differ from the core's :class:`twinserve.errors.ClientError` on purpose: that one is the
*server's* verdict on a request (a 4xx it renders); these are the *caller's* failures.

Exit codes (``twinserve predict``):
  2  the input or the invocation is wrong (a bad file, a bad URL, no AWS credentials): nothing, or
     nothing more, was sent;
  1  the server refused a request (a 4xx that is not retried, or a 2xx that is not a prediction),
     or the client gave up after its retries (429, 5xx, connection errors, timeouts).
"""

from __future__ import annotations

from twinserve.client.printable import printable

EXIT_OK = 0
EXIT_SERVER = 1
EXIT_USAGE = 2


class CallError(Exception):
    """Base of every failure of the prediction client; ``exit_code`` is the CLI's.

    The message is made :func:`~twinserve.client.printable.printable` here, the one place every
    error passes: it quotes server text (an error message, a header, a model name, a transport
    error's status line) and is printed on the user's terminal as one line.
    """

    exit_code: int = EXIT_SERVER

    def __init__(self, message: str) -> None:
        message = printable(message)
        super().__init__(message)
        self.message = message


class UsageError(CallError):
    """The call cannot be made as configured (URL, region, credentials, limits, missing library)."""

    exit_code = EXIT_USAGE


class BadInput(UsageError):
    """An input file or row that cannot be read as rows of finite numbers; says where (file:line)."""


class ServerRefused(CallError):
    """The server answered with a status the client does not retry (4xx other than 429, or 3xx)."""

    def __init__(self, status: int, code: str | None, detail: str, attempts: int = 1) -> None:
        label = f"{status} {code}" if code else str(status)
        super().__init__(f"server refused the request ({label}): {detail}")
        self.status = status
        self.code = printable(code) if code is not None else None
        self.detail = printable(detail)
        self.attempts = attempts


class GaveUp(CallError):
    """Every attempt failed with a retried condition (429, 5xx, connection error, timeout)."""

    def __init__(self, attempts: int, last: str, status: int | None = None) -> None:
        super().__init__(f"gave up after {attempts} attempt{'s' if attempts != 1 else ''}: {last}")
        self.attempts = attempts
        self.last = printable(last)
        self.status = status  # the last HTTP status; None when the last attempt got no answer


class UnexpectedAnswer(CallError):
    """A 2xx whose body is not the prediction contract (not JSON, wrong row count, no predictions)."""


class ModelChanged(UnexpectedAnswer):
    """Two batches of one run were answered by different models (a deploy happened mid-run)."""
