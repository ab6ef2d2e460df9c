"""Errors and warnings that cxroi raises for analysts to read.

Every error names what is wrong and where; front-ends print ``str(error)`` as one line and exit
with code 2. Warnings that matter to an analyst (small n, non-convergence) subclass
:class:`CxroiWarning`, itself a :class:`RuntimeWarning`.
"""

from __future__ import annotations

__all__ = ["CxroiError", "CxroiWarning", "IngestError", "SmallSampleWarning", "WorkspaceError"]


class CxroiError(ValueError):
    """Base class of every error cxroi raises on bad input or state."""


class WorkspaceError(CxroiError):
    """A workspace folder is missing, incomplete or misconfigured."""


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
