"""Customer satisfaction (CSAT): the top-2-box share on a 1-5 scale, with a Wilson interval.

.. math::

    \\mathrm{CSAT} = 100\\,k/n

with :math:`k` answers of 4 or 5 among :math:`n` answers on 1..5; the interval is Wilson's
score interval (:func:`cxroi.metrics._intervals.wilson`), reported in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis.expr.types as ir
import numpy as np

from cxroi.errors import CxroiError
from cxroi.metrics._intervals import as_float, clean_scores, wilson

__all__ = ["CSATResult", "csat", "csat_aggregates", "csat_counts", "csat_from_counts"]


@dataclass(frozen=True)
class CSATResult:
    """CSAT in percent (0..100) with its Wilson interval, ``n`` and the satisfied count."""

    csat: float
    n: int
    satisfied: int
    se: float
    ci_low: float
    ci_high: float
    level: float = 0.95


def csat_from_counts(satisfied: object, n: object, *, level: float = 0.95) -> dict[str, np.ndarray]:
    """CSAT (percent), standard error and Wilson interval from counts (scalars or arrays).

    Returns
    -------
    dict of arrays
        ``csat``, ``n``, ``se``, ``ci_low``, ``ci_high``; ``nan`` where ``n == 0``.
    """
    p, se, lo, hi = wilson(satisfied, n, level=level)
    return {
        "csat": 100 * p,
        "n": as_float(n),
        "se": 100 * se,
        "ci_low": 100 * lo,
        "ci_high": 100 * hi,
    }


def csat(scores: Sequence[float] | np.ndarray, *, level: float = 0.95) -> CSATResult:
    """CSAT of a list of 1-5 answers: the share answering 4 or 5, in percent.

    Parameters
    ----------
    scores
        Answers on 1..5; nulls are dropped, off-scale values raise
        :class:`~cxroi.errors.CxroiError`.
    level
        Confidence level.

    Returns
    -------
    CSATResult

    Examples
    --------
    >>> r = csat([5, 4, 4, 3, 1])
    >>> r.csat, r.n
    (60.0, 5)
    """
    x = clean_scores(scores, lo=1, hi=5, name="CSAT")
    k = int((x >= 4).sum())
    r = csat_from_counts(k, len(x), level=level)
    return CSATResult(
        csat=float(r["csat"]),
        n=len(x),
        satisfied=k,
        se=float(r["se"]),
        ci_low=float(r["ci_low"]),
        ci_high=float(r["ci_high"]),
        level=level,
    )


def csat_aggregates(score: ir.IntegerColumn, *, prefix: str = "csat_") -> dict[str, ir.Scalar]:
    """Named engine reductions: answers (``n``) and top-2-box answers (``satisfied``)."""
    return {f"{prefix}n": score.count(), f"{prefix}satisfied": score.count(where=score >= 4)}


def csat_counts(table: ir.Table, *, by: Sequence[str] = (), score: str = "csat") -> ir.Table:
    """An Ibis expression: ``n`` and ``satisfied`` of ``table[score]`` per group.

    Feed the executed result to :func:`csat_from_counts`.
    """
    if score not in table.columns:
        raise CxroiError(f"table has no {score!r} column")
    aggs = csat_aggregates(table[score], prefix="")
    return table.group_by(list(by)).aggregate(**aggs) if by else table.aggregate(**aggs)
