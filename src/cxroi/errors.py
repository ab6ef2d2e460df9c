"""Errors and warnings that cxroi raises for analysts to read.

Every error names what is wrong and where; front-ends print it as one line and exit with
code 2. An error that tells the reader to change a setting names the *parameter*
(:func:`param`), not a command-line flag: ``str(error)`` reads ``skip_bad=True``, the CLI reads
``--skip-bad`` (:meth:`CxroiError.render`) and an HTTP client sees the field name.

Warnings that matter to an analyst (small n, non-convergence) subclass :class:`CxroiWarning`,
itself a :class:`RuntimeWarning`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "CxroiError",
    "CxroiWarning",
    "IngestError",
    "NotFittedError",
    "SmallSampleWarning",
    "WorkspaceError",
    "first_line",
    "param",
]

_MARK = "\x00"
_PARAM = re.compile(f"{_MARK}([A-Za-z_][A-Za-z0-9_]*)(?:=([^{_MARK}]*))?{_MARK}")


def param(name: str, value: object | None = None) -> str:
    """A reference to parameter ``name`` (optionally with a value) inside an error message.

    ``str(error)`` shows it as ``name`` or ``name=value``; the CLI shows the flag instead.

    >>> str(CxroiError(f"pass {param('skip_bad', True)} to load the good rows"))
    'pass skip_bad=True to load the good rows'
    """
    return f"{_MARK}{name}{'' if value is None else '=' + str(value)}{_MARK}"


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): how a
    third-party error is quoted inside one of ours."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _python_name(name: str, value: str | None) -> str:
    return name if value is None else f"{name}={value}"


class CxroiError(ValueError):
    """Base class of every error cxroi raises on bad input or state."""

    def render(self, name: Callable[[str, str | None], str] = _python_name) -> str:
        """The message with each :func:`param` written by ``name(parameter, value)``."""
        msg = super().__str__()
        return _PARAM.sub(lambda m: name(m.group(1), m.group(2)), msg)

    def __str__(self) -> str:
        return self.render()


class WorkspaceError(CxroiError):
    """A workspace folder is missing, incomplete or misconfigured."""


class NotFittedError(CxroiError, AttributeError):
    """A model's results were asked for before ``fit``."""


class IngestError(CxroiError):
    """A file or frame could not be loaded; nothing was written.

    Parameters
    ----------
    message
        The whole message, ready to print.
    problems
        Up to the first 20 bad rows, as dicts with ``line``, ``column``, ``value``, ``reason``.
    n_bad
        How many rows were bad in all.
    """

    def __init__(self, message: str, *, problems: list[dict] | None = None, n_bad: int = 0):
        super().__init__(message)
        self.problems = problems or []
        self.n_bad = n_bad


class CxroiWarning(RuntimeWarning):
    """A warning an analyst should read (small sample, non-convergence, …)."""


class SmallSampleWarning(CxroiWarning):
    """A group is below the workspace's minimum n; its numbers are flagged."""
